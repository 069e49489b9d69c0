// What an exported table is, read from SQLite's own description of the upload
// (its pragmas), never from its CREATE text. What the export cannot carry
// without evaluating something of the upload's is left out and listed; what
// no restore could read back is refused. Why: docs/design.md, "Exported schema".
import { SnapmetaError } from './errors.ts';
import type { SchemaTable } from './layout.ts';
import {
  BUILT_IN_COLLATIONS, literalDefault, writableType,
  type ColumnShape, type ForeignKeyShape, type IndexShape, type KeyPart, type TableShape,
} from './schema-text.ts';
import { all, scalar, type Database } from './sqlite.ts';
import { ident } from './sql-text.ts';

export interface DescribedTable {
  shape: TableShape;
  /** What the export leaves out of this table, one line each. */
  changes: string[];
}

const refuse = (what: string, why: string) => new SnapmetaError('UNSAFE_SCHEMA', `${what}: ${why}; the export cannot write it so that every restore reads it back`);

/** A name in a message: quoted, with any control character spelled out (receipts keep messages on one line). */
const shown = (name: string) => JSON.stringify(name);

/**
 * Why a name cannot be written, if it cannot: the sqlite3 shell drops a
 * carriage return at a line end, even inside quotes, and bytes that are not
 * UTF-8 reach us as U+FFFD, another name. `hex` is SQLite's hex() of it.
 */
function unwritableName(name: string, hex?: string): string | undefined {
  if (name.includes('\r')) return 'its name holds a carriage return';
  if (hex !== undefined && Buffer.from(name, 'utf8').toString('hex').toUpperCase() !== hex) return 'its name is not valid UTF-8';
  return undefined;
}

function checkName(what: string, name: string, hex?: string): void {
  const why = unwritableName(name, hex);
  if (why) throw refuse(what, why);
}

/**
 * The collation of a column, as SQLite compiles a comparison on it (EXPLAIN
 * shows it as "NOCASE-8"): no pragma reports a column's collation. One SQLite
 * does not have fails to compile; its name is in the message.
 */
function columnCollation(db: Database, table: string, column: string): string {
  try {
    const program = all(db, `EXPLAIN SELECT 1 FROM main.${ident(table)} NOT INDEXED WHERE ${ident(column)} < ?1`);
    const compare = program.find(([, opcode, , , , p4]) => /^(Lt|Le|Gt|Ge|Eq|Ne)$/.test(String(opcode)) && typeof p4 === 'string' && p4);
    return compare ? String(compare[5]).replace(/-(8|16LE|16BE)$/, '').toUpperCase() : 'BINARY';
  } catch (err) {
    const missing = /no such collation sequence: (.*)$/.exec((err as Error).message);
    if (missing) return missing[1];
    throw err;
  }
}

type ColumnRow = [name: string, hex: string, type: string, notNull: number, dflt: string | null, pk: number, hidden: number];

/** The stored columns, and the primary key's columns in key order. Generated columns are left out. */
function describeColumns(db: Database, table: SchemaTable, compared: ReadonlySet<string>, changes: string[]): { columns: ColumnShape[]; primaryKey: string[] } {
  const rows = all(db, `SELECT name, hex(name), type, "notnull", dflt_value, pk, hidden FROM main.pragma_table_xinfo(?) ORDER BY cid`, [table.name]) as ColumnRow[];
  const columns: ColumnShape[] = [];
  const primaryKey: [order: number, column: string][] = [];
  for (const [name, hex, type, notNull, dflt, pkOrder, hidden] of rows) {
    const at = `${table.name}.${name}`;
    if (hidden !== 0) {
      changes.push(`${at}: generated column left out (its expression is the upload's)`);
      continue;
    }
    checkName(`table ${shown(table.name)}, column ${shown(name)}`, name, hex);
    const written = writableType(type);
    if (written !== type) changes.push(`${at}: declared type ${JSON.stringify(type)} written as ${written} (the same affinity)`);
    const literal = dflt === null ? undefined : literalDefault(dflt);
    if (dflt !== null && literal === undefined) changes.push(`${at}: DEFAULT ${dflt.slice(0, 60)} left out (not a literal)`);
    let collation = columnCollation(db, table.name, name);
    if (!BUILT_IN_COLLATIONS.has(collation)) {
      if (compared.has(name.toLowerCase())) {
        throw refuse(`table ${shown(table.name)}, column ${shown(name)}`, `COLLATE ${collation} is not built into SQLite (BINARY, NOCASE, RTRIM), and the export compares this column`);
      }
      changes.push(`${at}: COLLATE ${collation} left out (not built into SQLite)`);
      collation = 'BINARY';
    }
    if (pkOrder > 0) primaryKey.push([pkOrder, name]);
    columns.push({ name, type: written, notNull: notNull === 1, default: literal, collation });
  }
  return { columns, primaryKey: primaryKey.sort((a, b) => a[0] - b[0]).map(([, name]) => name) };
}

type IndexRow = [name: string, hex: string, unique: number, origin: 'c' | 'u' | 'pk', partial: number];

interface Indexes {
  primaryKey: KeyPart[] | undefined;
  uniques: KeyPart[][];
  indexes: IndexShape[];
}

/**
 * The table's indexes in the order they were made (pragma_index_list lists
 * the newest first). `stored`: lower-case names of the columns exported.
 */
function describeIndexes(db: Database, table: string, stored: ReadonlySet<string>, changes: string[]): Indexes {
  const found: Indexes = { primaryKey: undefined, uniques: [], indexes: [] };
  const rows = all(db, `SELECT name, hex(name), "unique", origin, partial FROM main.pragma_index_list(?) ORDER BY seq DESC`, [table]) as IndexRow[];
  for (const [name, hex, unique, origin, partial] of rows) {
    const keys = all(db, `SELECT cid, name, "desc", upper(coll) FROM main.pragma_index_xinfo(?) WHERE key ORDER BY seqno`, [name]) as [number, string, number, string][];
    const parts = keys.map(([, column, desc, collation]): KeyPart => ({ column, collation, desc: desc === 1 }));
    const why = partial ? 'partial: its WHERE is an expression' : keys.some(([cid]) => cid < 0) ? 'on an expression'
      : parts.some((part) => !stored.has(part.column.toLowerCase())) ? 'on a generated column'
        : /^sqlite_/i.test(name) && origin === 'c' ? 'its name is reserved by SQLite' : undefined;
    if (why) {
      changes.push(`${table}: index ${name} left out (${why})`);
      continue;
    }
    const foreign = parts.find((part) => !BUILT_IN_COLLATIONS.has(part.collation));
    if (foreign && (unique || origin !== 'c')) {
      throw refuse(`table ${shown(table)}, index ${shown(name)}, column ${shown(foreign.column)}`, `the unique key uses COLLATE ${foreign.collation}, which is not built into SQLite`);
    }
    if (foreign) {
      changes.push(`${table}: index ${name} left out (COLLATE ${foreign.collation} is not built into SQLite)`);
      continue;
    }
    if (origin === 'pk') found.primaryKey = parts;
    else if (origin === 'u') found.uniques.push(parts);
    else {
      checkName(`table ${shown(table)}, index ${shown(name)}`, name, hex);
      found.indexes.push({ name, unique: unique === 1, keys: parts });
    }
  }
  return found;
}

type ForeignKeyRow = [id: number, parent: string, parentHex: string, from: string, to: string | null, toHex: string | null, onUpdate: string, onDelete: string];

/** In the order they were declared (SQLite numbers them from the last); none from a generated column. */
function describeForeignKeys(db: Database, table: string, stored: ReadonlySet<string>, changes: string[]): ForeignKeyShape[] {
  const rows = all(db, `SELECT id, "table", hex("table"), "from", "to", hex("to"), on_update, on_delete
                        FROM main.pragma_foreign_key_list(?) ORDER BY id DESC, seq`, [table]) as ForeignKeyRow[];
  const keys = new Map<number, ForeignKeyShape>();
  for (const [id, parent, parentHex, from, to, toHex, onUpdate, onDelete] of rows) {
    checkName(`table ${shown(table)}, foreign key to ${shown(parent)}`, parent, parentHex);
    if (to !== null) checkName(`table ${shown(table)}, foreign key to ${shown(parent)} column ${shown(to)}`, to, toHex!);
    const foreignKey = keys.get(id) ?? { parent, from: [], to: [], onUpdate, onDelete };
    foreignKey.from.push(from);
    if (to !== null) foreignKey.to.push(to);
    keys.set(id, foreignKey);
  }
  const kept = [...keys.values()].filter((foreignKey) => foreignKey.from.every((column) => stored.has(column.toLowerCase())));
  if (kept.length < keys.size) changes.push(`${table}: ${keys.size - kept.length} foreign key(s) from a generated column left out`);
  return kept;
}

/** Whether the table keeps a sqlite_sequence counter: the one trace AUTOINCREMENT leaves outside the CREATE text. */
function hasSequence(db: Database, table: string): boolean {
  const sequence = Number(scalar(db, "SELECT count(*) FROM main.sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'"));
  return sequence > 0 && scalar(db, 'SELECT 1 FROM main.sqlite_sequence WHERE name = ?', [table]) !== null;
}

/**
 * The shape to export `table` (a rowid table) with, and what it leaves out of
 * the upload's. `compared`: lower-case names of the columns the pruning
 * compares. Throws SnapmetaError UNSAFE_SCHEMA for a name no restore could
 * read back (a CR, bytes that are not UTF-8), or a collation SQLite lacks on
 * a compared column or a unique key.
 */
export function describeTable(db: Database, table: SchemaTable, compared: ReadonlySet<string>): DescribedTable {
  checkName(`table ${shown(table.name)}`, table.name);
  const changes: string[] = [];
  const { columns, primaryKey: primaryKeyColumns } = describeColumns(db, table, compared, changes);
  const stored = new Set(columns.map((column) => column.name.toLowerCase()));
  const { primaryKey, uniques, indexes } = describeIndexes(db, table.name, stored, changes);
  const foreignKeys = describeForeignKeys(db, table.name, stored, changes);
  const shape: TableShape = { name: table.name, strict: table.strict, columns, primaryKey, uniques, foreignKeys, indexes };
  // A one-column primary key with no index of its own is the rowid: written
  // on the column, as is an INTEGER PRIMARY KEY DESC (a table constraint would
  // make that one the rowid).
  const single = primaryKeyColumns.length === 1 ? columns.find((column) => column.name === primaryKeyColumns[0]) : undefined;
  if (single && !primaryKey) {
    single.primaryKey = { desc: false, autoincrement: hasSequence(db, table.name) };
  } else if (single && /^integer$/i.test(single.type) && primaryKey?.[0].desc) {
    single.primaryKey = { desc: true, autoincrement: false };
    shape.primaryKey = undefined;
  }
  return { shape, changes };
}
