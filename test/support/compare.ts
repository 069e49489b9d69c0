// Compares two SQLite database files with the sqlite3 CLI: every table's
// structure as SQLite itself describes it (columns with their declared type,
// NOT NULL, DEFAULT, key order, collation and generated-ness; WITHOUT ROWID,
// STRICT; every index's keys, collations, order, uniqueness; foreign keys),
// views and triggers by their SQL, and every table's rows as multisets of
// typed values, so 3 vs 3.0, 2^63-1 vs 2^63-2 and a BLOB vs TEXT all differ.
// The CREATE text itself is not compared: an export writes its own
// (lib/core/schema-text.ts), and two texts can say the same thing.
import { execFileSync } from 'node:child_process';
import { sqliteJson } from './sqlite-cli.ts';
import { ident, sqlText } from '../../lib/core/sql-text.ts';

const SHOWN_ROWS = 5;
const SHOWN_CHARS = 300;

interface SchemaRow {
  type: string;
  name: string;
  sql: string | null;
  /** JSON array of the stored column names (pragma_table_info), for tables. */
  columns: string | null;
}

function schemaObjects(db: string): Map<string, SchemaRow> {
  const rows = sqliteJson<SchemaRow>(db, `SELECT type, name, sql, CASE WHEN type = 'table' THEN
    (SELECT json_group_array(c.name) FROM pragma_table_info(s.name) c) END AS columns FROM sqlite_schema s`);
  return new Map(rows.map((r) => [`${r.type} ${r.name}`, r]));
}

interface TableRow {
  name: string;
  kind: string;
  /** JSON: [name, type, notnull, dflt_value, pk, hidden] per column, in order. */
  columns: string;
  /** JSON: [name or null (automatic), unique, origin, partial, keys JSON] per index. */
  indexes: string;
  /** JSON: [id, seq, table, from, to, on_update, on_delete] per foreign key column. */
  fks: string;
}

// Everything SQLite reports about a table's structure, in one query.
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

interface Structure {
  kind: string;
  /** Rendered, by column name, in order. */
  columns: [string, string][];
  /** Rendered: named indexes by name, automatic ones (keys, UNIQUE, PRIMARY KEY) by what they are. */
  indexes: Map<string, string>;
  fks: Set<string>;
}

/**
 * A column's collation, as a comparison on it compiles (EXPLAIN shows
 * "NOCASE-8"): no pragma reports it. One the CLI lacks shows as "?".
 */
function columnCollations(db: string, tables: { name: string; columns: string[] }[]): Map<string, string> {
  const probes = tables.flatMap((t) => t.columns.map((c) => ({ key: `${t.name}\0${c}`, sql: `EXPLAIN SELECT 1 FROM ${ident(t.name)} NOT INDEXED WHERE ${ident(c)} < ?1;` })));
  if (probes.length === 0) return new Map();
  const script = ['.bail off', '.explain off', ...probes.flatMap((p, n) => [`SELECT '@@${n}';`, p.sql]), `SELECT '@@end';`].join('\n');
  // An unknown collation fails its EXPLAIN (on stderr): read stdout whatever the status.
  let out: string;
  try {
    out = execFileSync('sqlite3', ['-batch', '-list', '-separator', '\t', db], { input: script, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['pipe', 'pipe', 'ignore'] });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  const found = new Map<string, string>();
  let current = -1;
  let rows = 0;
  const settle = () => { if (current >= 0 && !found.has(probes[current].key)) found.set(probes[current].key, rows ? 'BINARY' : '?'); };
  for (const line of out.split('\n')) {
    const marker = /^@@(\d+|end)$/.exec(line);
    if (marker) {
      settle();
      current = marker[1] === 'end' ? -1 : Number(marker[1]);
      rows = 0;
      continue;
    }
    const [, opcode, , , , p4] = line.split('\t');
    rows++;
    if (current >= 0 && /^(Lt|Le|Gt|Ge|Eq|Ne)$/.test(opcode ?? '') && p4 && !found.has(probes[current].key)) {
      found.set(probes[current].key, p4.replace(/-(8|16LE|16BE)$/, '').toUpperCase());
    }
  }
  return found;
}

function structures(db: string): Map<string, Structure> {
  const rows = sqliteJson<TableRow>(db, STRUCTURE);
  const colls = columnCollations(db, rows.filter((r) => r.kind.startsWith('table'))
    .map((r) => ({ name: r.name, columns: (JSON.parse(r.columns) as Json[]).filter((c) => c[5] === 0).map((c) => String(c[0])) })));
  const out = new Map<string, Structure>();
  for (const r of rows) {
    const columns = (JSON.parse(r.columns) as Json[]).map(([name, type, notnull, dflt, pk, hidden]): [string, string] => [String(name),
      `${type || '(no type)'}${notnull ? ' NOT NULL' : ''}${dflt === null ? '' : ` DEFAULT ${dflt}`}${pk ? ` pk=${pk}` : ''}`
      + `${hidden ? ` generated (hidden=${hidden})` : ` COLLATE ${colls.get(`${r.name}\0${name}`) ?? 'BINARY'}`}`]);
    const indexes = new Map<string, string>();
    for (const [name, unique, origin, partial, keys] of JSON.parse(r.indexes) as Json[]) {
      const text = ((typeof keys === 'string' ? JSON.parse(keys) : keys) as unknown as Json[]).map(([cid, col, desc, coll]) => `${cid === -2 ? '(expression)' : col} COLLATE ${coll}${desc ? ' DESC' : ''}`).join(', ');
      const what = `${origin === 'pk' ? 'PRIMARY KEY' : unique ? 'UNIQUE' : 'INDEX'} (${text})${partial ? ' WHERE (partial)' : ''}`;
      indexes.set(name === null ? `${origin === 'pk' ? 'primary key' : 'unique key'} (${text})` : `index ${name}`, what);
    }
    const fks = new Set((JSON.parse(r.fks) as Json[]).map((f) => JSON.stringify(f)));
    out.set(r.name, { kind: r.kind, columns, indexes: new Map([...indexes].sort(([x], [y]) => (x < y ? -1 : 1))), fks });
  }
  return out;
}

function compareStructure(name: string, a: Structure, b: Structure): string[] {
  const diffs: string[] = [];
  if (a.kind !== b.kind) diffs.push(`table ${name}: ${a.kind} in a, ${b.kind} in b`);
  const colsA = new Map(a.columns);
  const colsB = new Map(b.columns);
  for (const [col, text] of a.columns) {
    if (!colsB.has(col)) diffs.push(`table ${name}: column ${col} only in a (${text})`);
    else if (colsB.get(col) !== text) diffs.push(`table ${name}: column ${col} differs (a: ${text}; b: ${colsB.get(col)})`);
  }
  for (const [col, text] of b.columns) if (!colsA.has(col)) diffs.push(`table ${name}: column ${col} only in b (${text})`);
  const shared = (cols: [string, string][], other: Map<string, string>) => cols.map(([c]) => c).filter((c) => other.has(c)).join(', ');
  if (shared(a.columns, colsB) !== shared(b.columns, colsA)) diffs.push(`table ${name}: columns in another order`);
  for (const [key, text] of a.indexes) {
    const other = b.indexes.get(key);
    const where = key.startsWith('index ') ? key : `table ${name}: ${key}`;
    if (other === undefined) diffs.push(`${where} only in a`);
    else if (other !== text) diffs.push(`${where} differs (a: ${text}; b: ${other})`);
  }
  for (const key of b.indexes.keys()) if (!a.indexes.has(key)) diffs.push(`${key.startsWith('index ') ? key : `table ${name}: ${key}`} only in b`);
  for (const fk of a.fks) if (!b.fks.has(fk)) diffs.push(`table ${name}: foreign key ${fk} only in a`);
  for (const fk of b.fks) if (!a.fks.has(fk)) diffs.push(`table ${name}: foreign key ${fk} only in b`);
  return diffs;
}

const normalise = (sql: string | null) => (sql ?? '').replace(/\s+/g, ' ').trim();

/** One text per row: `typeof:quote` of each column, in the given column order. */
function rowText(cols: string[]): string {
  return cols.map((c) => `typeof(${ident(c)}) || ':' || quote(${ident(c)})`).join(` || ',' || `);
}

const shorten = (s: string) => (s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}… (${s.length} chars)` : s);

function compareRows(a: string, b: string, table: string, cols: string[]): string[] {
  const t = ident(table);
  const r = rowText(cols);
  // Each side's rows with multiplicities; a row differs when it occurs more
  // often on one side than on the other.
  const rows = sqliteJson<{ side: string; r: string; extra: number; total: number; na: number; nb: number }>(a, `
    ATTACH ${sqlText(b)} AS other;
    WITH ra AS (SELECT r, count(*) AS n FROM (SELECT ${r} AS r FROM main.${t}) GROUP BY r),
         rb AS (SELECT r, count(*) AS n FROM (SELECT ${r} AS r FROM other.${t}) GROUP BY r),
         diff AS (
           SELECT 'a' AS side, ra.r AS r, ra.n - coalesce(rb.n, 0) AS extra FROM ra LEFT JOIN rb ON rb.r = ra.r
           WHERE ra.n > coalesce(rb.n, 0)
           UNION ALL
           SELECT 'b', rb.r, rb.n - coalesce(ra.n, 0) FROM rb LEFT JOIN ra ON ra.r = rb.r
           WHERE rb.n > coalesce(ra.n, 0))
    SELECT side, r, extra, sum(extra) OVER () AS total,
           (SELECT count(*) FROM main.${t}) AS na, (SELECT count(*) FROM other.${t}) AS nb
    FROM diff ORDER BY side, r LIMIT ${2 * SHOWN_ROWS};`);
  if (rows.length === 0) return [];
  const { na, nb, total } = rows[0];
  const out = [`table ${table}: ${total} rows differ (a has ${na} rows, b has ${nb})`];
  for (const side of ['a', 'b']) {
    for (const row of rows.filter((x) => x.side === side).slice(0, SHOWN_ROWS)) {
      out.push(`  only in ${side}${row.extra > 1 ? ` (${row.extra} times)` : ''}: ${shorten(row.r)}`);
    }
  }
  return out;
}

/**
 * Human-readable differences between two database files; empty when they
 * hold the same tables, structures, views, triggers and rows.
 */
export function compareDatabases(a: string, b: string): string[] {
  const diffs: string[] = [];
  const [sa, sb] = [structures(a), structures(b)];
  for (const [name, s] of sa) {
    const other = sb.get(name);
    if (!other) diffs.push(`table ${name} only in a`);
    else diffs.push(...compareStructure(name, s, other));
  }
  for (const name of sb.keys()) if (!sa.has(name)) diffs.push(`table ${name} only in b`);
  const [oa, ob] = [schemaObjects(a), schemaObjects(b)];
  for (const [key, obj] of oa) {
    if (obj.type !== 'view' && obj.type !== 'trigger') continue;
    const other = ob.get(key);
    if (!other) diffs.push(`${key} only in a`);
    else if (normalise(obj.sql) !== normalise(other.sql)) diffs.push(`${key} differs:\n  a: ${shorten(normalise(obj.sql))}\n  b: ${shorten(normalise(other.sql))}`);
  }
  for (const [key, obj] of ob) if ((obj.type === 'view' || obj.type === 'trigger') && !oa.has(key)) diffs.push(`${key} only in b`);

  for (const obj of oa.values()) {
    const other = ob.get(`table ${obj.name}`);
    // sqlite_sequence counters are irrelevant (the restore's start from the kept rows).
    if (obj.type !== 'table' || !other || obj.name === 'sqlite_sequence') continue;
    const colsA = JSON.parse(obj.columns!) as string[];
    const colsB = JSON.parse(other.columns!) as string[];
    if (colsA.join('\0') !== colsB.join('\0')) continue; // reported with the structure
    diffs.push(...compareRows(a, b, obj.name, colsA));
  }
  return diffs;
}

/** Row count of every table (sqlite_* tables included), by name. */
export function tableRowCounts(db: string): Record<string, number> {
  const tables = sqliteJson<{ name: string }>(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
  if (tables.length === 0) return {};
  const sql = tables.map((t) => `SELECT ${sqlText(t.name)} AS t, count(*) AS n FROM ${ident(t.name)}`).join(' UNION ALL ');
  return Object.fromEntries(sqliteJson<{ t: string; n: number }>(db, sql).map((r) => [r.t, r.n]));
}
