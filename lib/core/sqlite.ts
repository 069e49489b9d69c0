// One sql.js (SQLite compiled to WASM) instance per process, plus the small
// query helpers the rest of the core uses.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';

export type { Database, SqlJsStatic, SqlValue, Statement };

const require = createRequire(import.meta.url);

// A checkout finds sql-wasm.wasm in node_modules; a bundle (the Lambda asset,
// the built CLI), which has no sql.js package, carries it beside itself.
function wasmPath(): string {
  try {
    return require.resolve('sql.js/dist/sql-wasm.wasm');
  } catch {
    return fileURLToPath(new URL('sql-wasm.wasm', import.meta.url));
  }
}

let sqlJs: Promise<SqlJsStatic> | undefined;

/** The process's one sql.js module, loaded on first use. */
export function loadSqlJs(): Promise<SqlJsStatic> {
  // sql.js reads and compiles the file itself, asynchronously.
  sqlJs ??= initSqlJs({ locateFile: () => wasmPath() });
  return sqlJs;
}

/** Every row of a query. */
export function all(db: Database, sql: string, params: SqlValue[] = []): SqlValue[][] {
  const stmt = db.prepare(sql);
  try {
    stmt.bind(params);
    const rows: SqlValue[][] = [];
    while (stmt.step()) rows.push(stmt.get());
    return rows;
  } finally {
    stmt.free();
  }
}

/** The first column of a query's first row; null when it has none. */
export function scalar(db: Database, sql: string, params: SqlValue[] = []): SqlValue {
  return all(db, sql, params)[0]?.[0] ?? null;
}

export function run(db: Database, sql: string, params: SqlValue[] = []): void {
  db.run(sql, params);
}

/** SQLite's own messages for damaged input, as sql.js surfaces them. */
export function isCorruptionMessage(message: string): boolean {
  return /malformed|not a database|corrupt|disk I\/O error|database or disk is full|file is encrypted/i.test(message);
}
