// A table's structure as SQLite itself reports it (pragma_table_list,
// pragma_table_xinfo, pragma_index_list / _xinfo, pragma_foreign_key_list,
// and EXPLAIN for a column's collation, which no pragma gives), and the
// differences between two such descriptions. One query, run by whichever
// SQLite is asked: the sqlite3 CLI (compare.ts) or sql.js (the schema fuzz).
import { ident } from '../../lib/core/sql-text.ts';

export interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  dflt: string | null;
  pk: number;
  /** 2 and 3: generated (VIRTUAL, STORED); 1: a virtual table's hidden column. */
  hidden: number;
  collation: string;
}

export interface TableStructure {
  /** pragma_table_list's type, wr and strict. */
  kind: string;
  columns: ColumnInfo[];
  /** Named indexes by "index <name>", automatic ones by their keys; each rendered. */
  indexes: Map<string, string>;
  fks: Set<string>;
}

export interface ColumnRef {
  table: string;
  column: string;
}

// Everything the pragmas report about each table, in one query.
const STRUCTURE = `SELECT l.name AS name, l.type || ' wr=' || l.wr || ' strict=' || l.strict AS kind,
  (SELECT json_group_array(json_array(c.name, c.type, c."notnull", c.dflt_value, c.pk, c.hidden))
     FROM (SELECT * FROM pragma_table_xinfo(l.name) ORDER BY cid) c) AS columns,
  (SELECT json_group_array(json_array(CASE WHEN i.origin = 'c' THEN i.name END, i."unique", i.origin, i.partial,
     (SELECT json_group_array(json_array(x.cid, x.name, x."desc", upper(x.coll)))
        FROM (SELECT * FROM pragma_index_xinfo(i.name) WHERE key ORDER BY seqno) x)))
     FROM pragma_index_list(l.name) i) AS indexes,
  (SELECT json_group_array(json_array(f.id, f.seq, f."table", f."from", f."to", f.on_update, f.on_delete))
     FROM pragma_foreign_key_list(l.name) f) AS fks
FROM pragma_table_list l WHERE l.schema = 'main' AND l.type <> 'view' AND l.name <> 'sqlite_schema'`;

type Json = (string | number | null)[];

/** A comparison on the column, compiled: its opcode names the collation ("NOCASE-8"). */
export const collationProbe = (c: ColumnRef) => `EXPLAIN SELECT 1 FROM ${ident(c.table)} NOT INDEXED WHERE ${ident(c.column)} < ?1`;

/** The collation an EXPLAIN row shows, if it is a comparison. */
export function collationIn(opcode: unknown, p4: unknown): string | undefined {
  return /^(Lt|Le|Gt|Ge|Eq|Ne)$/.test(String(opcode)) && typeof p4 === 'string' && p4 ? p4.replace(/-(8|16LE|16BE)$/, '').toUpperCase() : undefined;
}

export const columnKey = (c: ColumnRef) => `${c.table}\0${c.column}`;

const parse = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value) as Json[];

function indexesOf(json: unknown): Map<string, string> {
  const indexes = new Map<string, string>();
  for (const [name, unique, origin, partial, keys] of parse(json)) {
    const text = parse(keys).map(([cid, col, desc, coll]) => `${cid === -2 ? '(expression)' : col} COLLATE ${coll}${desc ? ' DESC' : ''}`).join(', ');
    const what = `${origin === 'pk' ? 'PRIMARY KEY' : unique ? 'UNIQUE' : 'INDEX'} (${text})${partial ? ' WHERE (partial)' : ''}`;
    indexes.set(name === null ? `${origin === 'pk' ? 'primary key' : 'unique key'} (${text})` : `index ${name}`, what);
  }
  return new Map([...indexes].sort(([x], [y]) => (x < y ? -1 : 1)));
}

/**
 * Every table's structure. `query` runs SQL and returns rows as objects;
 * `collations` maps columnKey → collation for the stored columns given.
 */
export function readStructures(query: (sql: string) => Record<string, unknown>[], collations: (columns: ColumnRef[]) => Map<string, string>): Map<string, TableStructure> {
  const rows = query(STRUCTURE) as { name: string; kind: string; columns: unknown; indexes: unknown; fks: unknown }[];
  const stored = rows.filter((r) => r.kind.startsWith('table '))
    .flatMap((r) => parse(r.columns).filter((c) => c[5] === 0).map((c) => ({ table: r.name, column: String(c[0]) })));
  const colls = collations(stored);
  const out = new Map<string, TableStructure>();
  for (const r of rows) {
    const columns = parse(r.columns).map(([name, type, notNull, dflt, pk, hidden]): ColumnInfo => ({
      name: String(name), type: String(type ?? ''), notNull: notNull === 1, dflt: dflt === null ? null : String(dflt), pk: Number(pk), hidden: Number(hidden),
      collation: hidden ? '' : colls.get(columnKey({ table: r.name, column: String(name) })) ?? 'BINARY',
    }));
    out.set(r.name, { kind: r.kind, columns, indexes: indexesOf(r.indexes), fks: new Set(parse(r.fks).map((f) => JSON.stringify(f))) });
  }
  return out;
}

const renderColumn = (c: ColumnInfo) => `${c.type || '(no type)'}${c.notNull ? ' NOT NULL' : ''}${c.dflt === null ? '' : ` DEFAULT ${c.dflt}`}`
  + `${c.pk ? ` pk=${c.pk}` : ''}${c.hidden ? ` generated (hidden=${c.hidden})` : ` COLLATE ${c.collation}`}`;

function tableDiffs(name: string, a: TableStructure, b: TableStructure): string[] {
  const diffs: string[] = [];
  if (a.kind !== b.kind) diffs.push(`table ${name}: ${a.kind} in a, ${b.kind} in b`);
  const colsA = new Map(a.columns.map((c) => [c.name, renderColumn(c)]));
  const colsB = new Map(b.columns.map((c) => [c.name, renderColumn(c)]));
  for (const [col, text] of colsA) {
    if (!colsB.has(col)) diffs.push(`table ${name}: column ${col} only in a (${text})`);
    else if (colsB.get(col) !== text) diffs.push(`table ${name}: column ${col} differs (a: ${text}; b: ${colsB.get(col)})`);
  }
  for (const [col, text] of colsB) if (!colsA.has(col)) diffs.push(`table ${name}: column ${col} only in b (${text})`);
  const shared = (cols: Map<string, string>, other: Map<string, string>) => [...cols.keys()].filter((c) => other.has(c)).join(', ');
  if (shared(colsA, colsB) !== shared(colsB, colsA)) diffs.push(`table ${name}: columns in another order`);
  const where = (key: string) => (key.startsWith('index ') ? key : `table ${name}: ${key}`);
  for (const [key, text] of a.indexes) {
    const other = b.indexes.get(key);
    if (other === undefined) diffs.push(`${where(key)} only in a`);
    else if (other !== text) diffs.push(`${where(key)} differs (a: ${text}; b: ${other})`);
  }
  for (const key of b.indexes.keys()) if (!a.indexes.has(key)) diffs.push(`${where(key)} only in b`);
  for (const fk of a.fks) if (!b.fks.has(fk)) diffs.push(`table ${name}: foreign key ${fk} only in a`);
  for (const fk of b.fks) if (!a.fks.has(fk)) diffs.push(`table ${name}: foreign key ${fk} only in b`);
  return diffs;
}

/** Human-readable differences between two sets of table structures; empty when the same. */
export function structureDiffs(a: Map<string, TableStructure>, b: Map<string, TableStructure>): string[] {
  const diffs: string[] = [];
  for (const [name, s] of a) {
    const other = b.get(name);
    if (!other) diffs.push(`table ${name} only in a`);
    else diffs.push(...tableDiffs(name, s, other));
  }
  for (const name of b.keys()) if (!a.has(name)) diffs.push(`table ${name} only in b`);
  return diffs;
}
