// The pruned database as SQL text in the shape of `sqlite3 .dump`, produced in
// batches of bytes so a 2 GB database never becomes one JavaScript string.
// SQLite renders every literal with quote(), keeping exact values and storage
// classes. How a batch is read and checked: docs/design.md, "Dump".
import { SnapmetaError } from './errors.ts';
import { DAMAGED, uniqueIndexProbes, type IndexProbe } from './checks.ts';
import type { KeptTable, Plan } from './prune.ts';
import { literalDefault } from './schema-text.ts';
import { all, scalar, type Database, type SqlValue, type Statement } from './sqlite.ts';
import { ident, sqlText } from './sql-text.ts';

const HEADER = 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n';
const FOOTER = 'COMMIT;\n';
const ROWS_PER_BATCH = 2048;
/** Where keyset paging starts: the smallest rowid, as text (see dumpRows). */
const FIRST_ROWID = '-9223372036854775808';
const encoder = new TextEncoder();

// Table names the layouts use print bare, as .dump prints them; anything else is quoted.
const bareName = (name: string) => (/^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name) ? name : ident(name));
const RESERVED = new Set(['order', 'group', 'index', 'table', 'select', 'where', 'from', 'values', 'default', 'check']);

export interface DumpProgress {
  rowsDone: number;
  rowsTotal: number;
}

/**
 * The plan's tables as SQL text, in UTF-8 chunks each ending on a statement
 * boundary: header, each CREATE TABLE and its INSERTs, the CREATE INDEXes,
 * footer. `onRows` hears after every batch. Throws SnapmetaError CORRUPT when
 * a kept row is missing, disagrees with a unique index or holds a NULL in a
 * NOT NULL column, UNSAFE_SCHEMA when that NULL comes from an expression DEFAULT.
 */
export function* dumpSql(db: Database, plan: Plan, onRows?: (p: DumpProgress) => void): Generator<Uint8Array> {
  const rowsTotal = plan.tables.reduce((sum, kept) => sum + kept.rows, 0);
  let rowsDone = 0;
  const onBatch = (rows: number) => {
    rowsDone += rows;
    onRows?.({ rowsDone, rowsTotal });
  };
  yield encoder.encode(HEADER);
  for (const kept of plan.tables) {
    yield encoder.encode(`${kept.create};\n`);
    if (kept.rows > 0) yield* dumpRows(db, kept, onBatch);
  }
  for (const sql of plan.indexes) yield encoder.encode(`${sql};\n`);
  yield encoder.encode(FOOTER);
}

/** The INSERTs of one table's kept rows, a batch at a time; refuses a batch that fails its checks, and a short table. */
function* dumpRows(db: Database, kept: KeptTable, onBatch: (rows: number) => void): Generator<Uint8Array> {
  const batches = prepareBatches(db, kept);
  try {
    // Keyset paging over the kept rowids, the next start as text so a rowid past 2^53 stays exact.
    let from = FIRST_ROWID;
    let done = 0;
    while (done < kept.rows) {
      const [next, count, text, nullCount, ...astray] = step(batches.asText, from);
      if (!count) break;
      checkBatch(db, kept, batches, nullCount, astray);
      // U+FFFD: a text value was not UTF-8; read the batch again, spelled in hex.
      const sql = (text as string).includes('\uFFFD') ? (step(batches.asHex, from)[2] as string) : (text as string);
      const bytes = encoder.encode(sql);
      from = next as string;
      done += count as number;
      onBatch(count as number);
      yield bytes;
    }
    // A damaged page can hide rows the plan counted: never publish a short table.
    if (done !== kept.rows) throw new SnapmetaError('CORRUPT', `table ${kept.table.name} gave ${done} of its ${kept.rows} kept rows while being dumped: the index database is damaged`);
  } finally {
    batches.asText.free();
    batches.asHex.free();
  }
}

/** The two statements that read a batch of one table, and what the first checks. */
interface Batches {
  /**
   * From rowid ?: the next start, the rows read, their INSERTs (CRs spelled
   * char(13)), the NULLs in NOT NULL columns, then per probe the rows that
   * disagree with its unique index.
   */
  asText: Statement;
  /** The same batch's INSERTs with every text value spelled CAST(X'…' AS TEXT). */
  asHex: Statement;
  notNull: string[];
  probes: IndexProbe[];
}

function prepareBatches(db: Database, kept: KeptTable): Batches {
  const { table, source, key } = kept;
  const target = bareName(table.name);
  // The exported table has exactly the stored columns, in order.
  const quoted = table.columns.map((column) => `quote(t.${ident(column)})`);
  const inHex = table.columns.map((column) => `CASE typeof(t.${ident(column)}) WHEN 'text' THEN 'CAST(X''' || hex(t.${ident(column)}) || ''' AS TEXT)' ELSE quote(t.${ident(column)}) END`);
  // The sqlite3 shell drops a CR at a line end, even inside quotes: spelled char(13) outside them.
  const textInserts = `replace(group_concat(${insertLine(target, quoted)}, char(10)), char(13), '''||char(13)||''') || char(10)`;
  const hexInserts = `group_concat(${insertLine(target, inHex)}, char(10)) || char(10)`;
  const notNull = notNullColumns(db, table.name);
  // A temp source was filled through its own constraints, which SQLite enforced.
  const probes = source.startsWith('temp.') ? [] : uniqueIndexProbes(db, table, source, key);
  // The checks run once per batch, with the text; the hex re-read only re-renders it.
  const checks = `, ${nullCountSql(notNull)}${probes.map((probe) => `, sum(${probe.sql})`).join('')}`;
  return { asText: batchStatement(db, kept, textInserts, checks), asHex: batchStatement(db, kept, hexInserts), notNull, probes };
}

/** SQL for one row's INSERT statement, given SQL for each of its values. */
function insertLine(target: string, values: string[]): string {
  return `'INSERT INTO ' || ${sqlText(target)} || ' VALUES(' || ${values.join(`||','||`) || "''"} || ');'`;
}

/** The batch's rows with a NULL in a NOT NULL column, counted in the same pass. */
const nullCountSql = (notNull: string[]) => (notNull.length ? `sum(${notNull.map((column) => `t.${ident(column)} IS NULL`).join(' OR ')})` : '0');

function notNullColumns(db: Database, table: string): string[] {
  return (all(db, `SELECT name FROM pragma_table_xinfo(?, 'main') WHERE "notnull" AND hidden = 0`, [table]) as [string][]).map(([column]) => column);
}

/**
 * Up to ROWS_PER_BATCH kept rows from rowid ?, in rowid order: the kept
 * rowids drive (CROSS JOIN), each one seek into the source.
 */
function batchStatement(db: Database, { table, source, keep }: KeptTable, value: string, checks = ''): Statement {
  return db.prepare(
    `SELECT CAST(max(k.r) + 1 AS TEXT), count(*), ${value}${checks}
       FROM (SELECT r FROM ${keep} WHERE r >= ? ORDER BY r LIMIT ${ROWS_PER_BATCH}) k
       CROSS JOIN ${source} AS t NOT INDEXED ON t.${ident(table.rowid!)} = k.r`,
  );
}

/** Refuses a batch with a NULL in a NOT NULL column, or with a row that disagrees with a unique index. */
function checkBatch(db: Database, { table, source, keep }: KeptTable, batches: Batches, nullCount: SqlValue, astray: SqlValue[]): void {
  if (nullCount) throw nullError(db, table.name, batches.notNull, `FROM ${keep} k JOIN ${source} AS t ON t.${ident(table.rowid!)} = k.r`);
  const probe = astray.findIndex((rows) => rows);
  if (probe >= 0) {
    throw new SnapmetaError('CORRUPT', `table ${table.name} disagrees with its unique index ${batches.probes[probe].index}: a damaged page changed a row or its index entry: ${DAMAGED}`);
  }
}

/**
 * Which NOT NULL column holds a NULL, and why: a damaged record, or rows
 * older than a column added with an expression DEFAULT, which SQLite does not
 * evaluate when it reads them (nor do we). `rows`: FROM … of the kept rows.
 */
function nullError(db: Database, table: string, notNull: string[], rows: string): SnapmetaError {
  // typeof(), not IS NULL: SQLite folds `x IS NULL` to false for a NOT NULL column.
  const column = notNull.find((name) => Number(scalar(db, `SELECT count(*) ${rows} WHERE typeof(t.${ident(name)}) = 'null'`)) > 0) ?? notNull[0];
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
