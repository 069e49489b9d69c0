// One sql.js (SQLite compiled to WASM) instance per process, plus the small
// query helpers the rest of the core uses.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';

export type { Database, SqlValue, Statement };

const require = createRequire(import.meta.url);

// A bundle (the Lambda asset) carries sql-wasm.wasm beside itself; a checkout
// finds it in node_modules.
function wasmPath(): string {
  const beside = join(dirname(fileURLToPath(import.meta.url)), 'sql-wasm.wasm');
  return existsSync(beside) ? beside : require.resolve('sql.js/dist/sql-wasm.wasm');
}

let sqlJs: Promise<SqlJsStatic> | undefined;

export function loadSqlJs(): Promise<SqlJsStatic> {
  sqlJs ??= initSqlJs({ wasmBinary: readFileSync(wasmPath()) as unknown as ArrayBuffer });
  return sqlJs;
}

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

export function scalar(db: Database, sql: string, params: SqlValue[] = []): SqlValue {
  return all(db, sql, params)[0]?.[0] ?? null;
}

export function run(db: Database, sql: string, params: SqlValue[] = []): void {
  db.run(sql, params);
}

/** Quote an identifier for SQL text we generate. */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** SQLite's own messages for damaged input, as sql.js surfaces them. */
export function isCorruptionMessage(message: string): boolean {
  return /malformed|not a database|corrupt|disk I\/O error|database or disk is full|file is encrypted/i.test(message);
}
