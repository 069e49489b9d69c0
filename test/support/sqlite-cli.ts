// Runs Debian's sqlite3 CLI: the independent reference our sql.js code is
// checked against. SQL goes through stdin, so scripts of any size work.
import { execFileSync } from 'node:child_process';

const MAX_OUTPUT = 1024 ** 3;

/** Runs SQL on a database file (or ':memory:') and returns what the CLI printed. */
export function sqlite(dbPath: string, sql: string, args: string[] = []): string {
  try {
    return execFileSync('sqlite3', ['-batch', '-bail', ...args, dbPath], {
      input: sql,
      encoding: 'utf8',
      maxBuffer: MAX_OUTPUT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`sqlite3 ${dbPath} failed: ${stderr || (err as Error).message}`, { cause: err });
  }
}

/**
 * Rows of one query as objects. -json turns integers into JS numbers (2^63-1
 * loses its value), so select values as text, e.g. typeof(x) || ':' || quote(x).
 */
export function sqliteJson<T = Record<string, unknown>>(dbPath: string, sql: string): T[] {
  const out = sqlite(dbPath, sql, ['-json']).trim();
  // The CLI prints nothing at all for an empty result.
  return out === '' ? [] : (JSON.parse(out) as T[]);
}

/** The single text value of a one-row, one-column query (undefined when no row). */
export function sqliteValue(dbPath: string, sql: string): string | undefined {
  const rows = sqliteJson<Record<string, unknown>>(dbPath, sql);
  if (rows.length === 0) return undefined;
  const value = Object.values(rows[0])[0];
  return value === null ? undefined : String(value);
}

