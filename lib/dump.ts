// The pruned database as SQL text in the shape of `sqlite3 .dump`, produced in
// batches of bytes so a 2 GB index never becomes one JavaScript string.
// SQLite renders every literal with quote(), so 64-bit integers, reals, text
// and blobs keep their exact values and storage classes.
import type { Plan } from './prune.ts';
import { ident, type Database } from './sqljs.ts';

const HEADER = 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n';
const FOOTER = 'COMMIT;\n';
const ROWS_PER_BATCH = 2048;
const encoder = new TextEncoder();

// Table names the layouts use print bare, as .dump prints them; anything else is quoted.
const bareName = (name: string) => (/^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name) ? name : ident(name));
const RESERVED = new Set(['order', 'group', 'index', 'table', 'select', 'where', 'from', 'values', 'default', 'check']);

export interface DumpProgress {
  rowsDone: number;
  rowsTotal: number;
}

/** Yields UTF-8 chunks, each ending on a statement boundary. */
export function* dumpSql(db: Database, plan: Plan, onRows?: (p: DumpProgress) => void): Generator<Uint8Array> {
  const rowsTotal = plan.tables.reduce((sum, t) => sum + t.rows, 0);
  let rowsDone = 0;
  yield encoder.encode(HEADER);
  for (const { table, keep, rows } of plan.tables) {
    yield encoder.encode(`${table.sql};\n`);
    if (rows === 0) continue;
    const target = bareName(table.name) + (table.hasGenerated ? `(${table.columns.map(ident).join(',')})` : '');
    // The sqlite3 shell drops a CR at the end of each input line, even inside a
    // string literal, so CRs are spelled char(13) outside the quotes.
    const values = table.columns.map((c) => `replace(quote(t.${ident(c)}),char(13),'''||char(13)||''')`).join(`||','||`);
    const line = `'INSERT INTO ' || ${sqlString(target)} || ' VALUES(' || ${values || "''"} || ');'`;
    // Keyset paging over the kept rowids; the next start travels as text so
    // rowids beyond 2^53 stay exact (SQLite converts it back to an integer).
    const stmt = db.prepare(
      `SELECT CAST(max(k.r) + 1 AS TEXT), count(*), CAST(group_concat(${line}, char(10) ORDER BY k.r) || char(10) AS BLOB)
       FROM (SELECT r FROM ${keep} WHERE r >= ? ORDER BY r LIMIT ${ROWS_PER_BATCH}) k
       JOIN main.${ident(table.name)} t ON t.${ident(table.rowid!)} = k.r`,
    );
    try {
      let from = '-9223372036854775808';
      for (let done = 0; done < rows; ) {
        stmt.bind([from]);
        stmt.step();
        const [next, count, text] = stmt.get();
        stmt.reset();
        if (!count) break;
        from = next as string;
        done += count as number;
        rowsDone += count as number;
        onRows?.({ rowsDone, rowsTotal });
        yield text as Uint8Array;
      }
    } finally {
      stmt.free();
    }
  }
  for (const sql of plan.indexes) yield encoder.encode(`${sql};\n`);
  yield encoder.encode(FOOTER);
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
