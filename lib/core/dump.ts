// The pruned database as SQL text in the shape of `sqlite3 .dump`, produced in
// batches of bytes so a 2 GB index never becomes one JavaScript string.
// SQLite renders every literal with quote(), so 64-bit integers, reals, text
// and blobs keep their exact values and storage classes.
import { SnapmetaError } from './errors.ts';
import { DAMAGED, uniqueIndexProbes } from './checks.ts';
import type { Plan } from './prune.ts';
import { literalDefault } from './schema-text.ts';
import { all, scalar, type Database, type SqlValue, type Statement } from './sqlite.ts';
import { ident, sqlText } from './sql-text.ts';

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
  for (const { table, create, source, keep, key, rows } of plan.tables) {
    yield encoder.encode(`${create};\n`);
    if (rows === 0) continue;
    // The exported table has exactly the stored columns, in order.
    const target = bareName(table.name);
    const values = table.columns.map((c) => `quote(t.${ident(c)})`).join(`||','||`);
    const line = `'INSERT INTO ' || ${sqlText(target)} || ' VALUES(' || ${values || "''"} || ');'`;
    // Keyset paging over the kept rowids; the next start travels as text so
    // rowids beyond 2^53 stay exact (SQLite converts it back to an integer).
    // The kept rowids drive (CROSS JOIN: SQLite keeps that order), so each one
    // is one seek and a damaged page that repeats a cell cannot repeat a row;
    // the rows come by rowid, so group_concat needs no ORDER BY (sorting each
    // batch cost a third of the dump).
    // The sqlite3 shell drops a CR at the end of each input line, even inside a
    // string literal, so CRs are spelled char(13) outside the quotes. Only a
    // quoted text value can hold one, so one replace() per batch does it.
    const batch = `replace(group_concat(${line}, char(10)), char(13), '''||char(13)||''') || char(10)`;
    // A NULL in a NOT NULL column would stop a restore at its INSERT: counted
    // in the same pass, and refused (nullError says why it is there).
    const notNull = (all(db, `SELECT name FROM pragma_table_xinfo(?, 'main') WHERE "notnull" AND hidden = 0`, [table.name]) as [string][])
      .map(([c]) => c);
    const nulls = notNull.length ? `sum(${notNull.map((c) => `t.${ident(c)} IS NULL`).join(' OR ')})` : '0';
    // Rows that disagree with a unique index, counted in the same pass. A temp
    // source was filled through its own constraints, which SQLite enforced.
    const probes = source.startsWith('temp.') ? [] : uniqueIndexProbes(db, table, source, key);
    const select = (value: string, checks = '') => db.prepare(
      `SELECT CAST(max(k.r) + 1 AS TEXT), count(*), ${value}${checks}
       FROM (SELECT r FROM ${keep} WHERE r >= ? ORDER BY r LIMIT ${ROWS_PER_BATCH}) k
       CROSS JOIN ${source} AS t NOT INDEXED ON t.${ident(table.rowid!)} = k.r`,
    );
    // sql.js copies a BLOB out of WASM memory byte by byte, but text through
    // TextDecoder, three times faster. SQLite's TEXT may hold invalid UTF-8
    // (a Latin-1 file name), which decodes to U+FFFD: such a batch is read
    // again with every text value spelled CAST(X'…' AS TEXT), exact and ASCII,
    // so the dump itself is always valid UTF-8.
    const hexValues = table.columns
      .map((c) => `CASE typeof(t.${ident(c)}) WHEN 'text' THEN 'CAST(X''' || hex(t.${ident(c)}) || ''' AS TEXT)' ELSE quote(t.${ident(c)}) END`)
      .join(`||','||`);
    const hexLine = `'INSERT INTO ' || ${sqlText(target)} || ' VALUES(' || ${hexValues || "''"} || ');'`;
    // The checks run once per batch, with the text; the hex re-read only re-renders it.
    const asText = select(batch, `, ${nulls}${probes.map((p) => `, sum(${p.sql})`).join('')}`);
    const asHex = select(`group_concat(${hexLine}, char(10)) || char(10)`);
    try {
      let from = '-9223372036854775808';
      let done = 0;
      while (done < rows) {
        const [next, count, text, nullCount, ...astray] = step(asText, from);
        if (!count) break;
        if (nullCount) throw nullError(db, table.name, notNull, `FROM ${keep} k JOIN ${source} AS t ON t.${ident(table.rowid!)} = k.r`);
        const off = astray.findIndex((n) => n);
        if (off >= 0) {
          throw new SnapmetaError('CORRUPT', `table ${table.name} disagrees with its unique index ${probes[off].index}: a damaged page changed a row or its index entry: ${DAMAGED}`);
        }
        const bytes = encoder.encode((text as string).includes('\uFFFD') ? (step(asHex, from)[2] as string) : (text as string));
        from = next as string;
        done += count as number;
        rowsDone += count as number;
        onRows?.({ rowsDone, rowsTotal });
        yield bytes;
      }
      // A damaged page can hide rows the plan counted: never publish a short table.
      if (done !== rows) throw new SnapmetaError('CORRUPT', `table ${table.name} gave ${done} of its ${rows} kept rows while being dumped: the index database is damaged`);
    } finally {
      asText.free();
      asHex.free();
    }
  }
  for (const sql of plan.indexes) yield encoder.encode(`${sql};\n`);
  yield encoder.encode(FOOTER);
}

/**
 * Which NOT NULL column holds a NULL, and why: a damaged record, or rows
 * older than a column added with an expression DEFAULT, which SQLite does not
 * evaluate when it reads them (nor do we). `rows`: FROM … of the kept rows.
 */
function nullError(db: Database, table: string, notNull: string[], rows: string): SnapmetaError {
  const column = notNull.find((c) => Number(scalar(db, `SELECT count(*) ${rows} WHERE t.${ident(c)} IS NULL`)) > 0) ?? notNull[0];
  const dflt = scalar(db, `SELECT dflt_value FROM pragma_table_xinfo(?, 'main') WHERE name = ?`, [table, column]);
  if (typeof dflt === 'string' && literalDefault(dflt) === undefined) {
    return new SnapmetaError('UNSAFE_SCHEMA', `table ${JSON.stringify(table)}, column ${JSON.stringify(column)}: NOT NULL, yet rows older than the column read NULL, `
      + `as SQLite does not evaluate its DEFAULT ${dflt.slice(0, 60)} when reading them; the export cannot write them so that every restore reads them back`);
  }
  return new SnapmetaError('CORRUPT', `table ${table} has a NULL in NOT NULL column ${column}: the index database is damaged`);
}

/** One row of a statement for one binding; the statement is ready for the next. */
function step(stmt: Statement, from: string): SqlValue[] {
  stmt.bind([from]);
  stmt.step();
  const row = stmt.get();
  stmt.reset();
  return row;
}
