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
import { collationIn, collationProbe, columnKey, readStructures, structureDiffs, type ColumnRef, type TableStructure } from './structure.ts';

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

/** Column collations by the sqlite3 CLI, in one run (see collationProbe); one it lacks shows as "?". */
function columnCollations(db: string, columns: ColumnRef[]): Map<string, string> {
  const probes = columns.map((c) => ({ key: columnKey(c), sql: `${collationProbe(c)};` }));
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
    const coll = collationIn(opcode, p4);
    if (current >= 0 && coll && !found.has(probes[current].key)) found.set(probes[current].key, coll);
  }
  return found;
}

/** Every table's structure, as the sqlite3 CLI reads it. */
function cliStructures(db: string): Map<string, TableStructure> {
  return readStructures((sql) => sqliteJson(db, sql), (columns) => columnCollations(db, columns));
}

const normalise = (sql: string | null) => (sql ?? '').replace(/\s+/g, ' ').trim();

/** One text per row: `typeof:quote` of each column, in the given column order. */
export function rowText(cols: string[]): string {
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
  const diffs = structureDiffs(cliStructures(a), cliStructures(b));
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
