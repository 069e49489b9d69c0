// Whether the upload's indexes agree with its tables, for the rows exported.
// SQLite keeps no page checksums: it notices a damaged page only when a table
// and its index disagree. Why these checks, and their cost: docs/design.md, "Checks".
import { SnapmetaError } from './errors.ts';
import type { SchemaTable } from './layout.ts';
import { BUILT_IN_COLLATIONS } from './schema-text.ts';
import { all, scalar, type Database, type SqlValue } from './sqlite.ts';
import { ident } from './sql-text.ts';

/** What a damaged-index error adds: where an operator finds the damage. */
export const DAMAGED = "the index database is damaged (PRAGMA integrity_check on the agent's copy shows where)";

export interface IndexProbe {
  index: string;
  /** 1 when row `t`, asked for by rowid `k.r`, is not in the index under that rowid, else 0. */
  sql: string;
}

/**
 * One probe per full (not partial), column-keyed unique index of `table`,
 * evaluated against a row aliased `t` of `source` (a main-schema table: the
 * indexes are its own), read by rowid `k.r`. The rowid asked for, not the one
 * read: a damaged page can answer a seek with another row's cell.
 * Not probed: expression and partial indexes, and a binary index on just the
 * column the rows were selected on (`checked`), which checkSelections counts.
 */
export function uniqueIndexProbes(db: Database, table: SchemaTable, source: string, checked?: string): IndexProbe[] {
  if (!table.rowid) return [];
  const probes: IndexProbe[] = [];
  for (const { index, keys } of uniqueIndexes(db, table.name)) {
    if (checked !== undefined && isBinaryKeyOn(keys, checked)) continue;
    // IS, not =: a unique index may hold many NULLs. Each comparison takes the
    // index's own collation, so the probe is a seek, not a scan.
    const match = keys.map(({ column, coll }) => `x.${ident(column)} IS t.${ident(column)} COLLATE ${ident(coll)}`).join(' AND ');
    probes.push({
      index,
      sql: `NOT EXISTS (SELECT 1 FROM ${source} AS x INDEXED BY ${ident(index)} WHERE ${match} AND x.${ident(table.rowid)} = k.r)`,
    });
  }
  return probes;
}

interface UniqueIndex {
  index: string;
  keys: { column: string; coll: string }[];
}

/**
 * The full (not partial) unique indexes of a main-schema table whose keys are
 * all plain columns compared by a collation SQLite has: a probe evaluates
 * nothing of the upload's (no expression, no WHERE, no unknown collation).
 */
export function uniqueIndexes(db: Database, table: string): UniqueIndex[] {
  const found: UniqueIndex[] = [];
  const indexes = all(db, `SELECT name FROM main.pragma_index_list(?) WHERE "unique" AND NOT partial ORDER BY name`, [table]) as [string][];
  for (const [index] of indexes) {
    const keys = all(db, `SELECT cid, name, upper(coll) FROM main.pragma_index_xinfo(?) WHERE key ORDER BY seqno`, [index]) as [number, string, string][];
    if (keys.length === 0 || keys.some(([cid, , coll]) => cid < 0 || !BUILT_IN_COLLATIONS.has(coll))) continue;
    found.push({ index, keys: keys.map(([, column, coll]) => ({ column, coll })) });
  }
  return found;
}

/** Whether an index's keys are exactly `column`, compared as bytes. */
export const isBinaryKeyOn = (keys: UniqueIndex['keys'], column: string) =>
  keys.length === 1 && keys[0].column.toLowerCase() === column.toLowerCase() && keys[0].coll === 'BINARY';

/** Rows of a table found through the upload's indexes, and the WHERE that found them. */
export interface Selection {
  table: string;
  found: number;
  /** The table, schema-qualified. */
  from: string;
  where: string;
  params: SqlValue[];
}

/**
 * Counts each selection again from its table alone (NOT INDEXED: every row
 * read, the keys probed in our own temp sets). A damaged index entry that
 * hid a row, or pointed at one, makes the two disagree: CORRUPT.
 */
export function checkSelections(db: Database, selections: Selection[]): void {
  for (const { table, found, from, where, params } of selections) {
    const held = Number(scalar(db, `SELECT count(*) FROM ${from} NOT INDEXED WHERE ${where}`, params));
    if (held !== found) {
      throw new SnapmetaError('CORRUPT', `table ${table}: its indexes find ${found} rows of the snapshot where the table holds ${held}: ${DAMAGED}`);
    }
  }
}
