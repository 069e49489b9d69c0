// Compares two SQLite database files with the sqlite3 CLI: schema objects by
// their SQL (whitespace-normalised), and every table's rows as multisets of
// typed values, so 3 vs 3.0, 2^63-1 vs 2^63-2 and a BLOB vs TEXT all differ.
import { sqliteJson } from './sqlite-cli.ts';
import { ident, sqlText } from '../../lib/core/sql-text.ts';

const SHOWN_ROWS = 5;
const SHOWN_CHARS = 300;

interface SchemaRow {
  type: string;
  name: string;
  sql: string | null;
  /** JSON array of column names, for tables. */
  columns: string | null;
}

function schemaObjects(db: string): Map<string, SchemaRow> {
  const rows = sqliteJson<SchemaRow>(db, `SELECT type, name, sql, CASE WHEN type = 'table' THEN
    (SELECT json_group_array(c.name) FROM pragma_table_info(s.name) c) END AS columns FROM sqlite_schema s`);
  return new Map(rows.map((r) => [`${r.type} ${r.name}`, r]));
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

/** Human-readable differences between two database files; empty when identical. */
export function compareDatabases(a: string, b: string): string[] {
  const diffs: string[] = [];
  const sa = schemaObjects(a);
  const sb = schemaObjects(b);
  for (const [key, obj] of sa) {
    const other = sb.get(key);
    if (!other) diffs.push(`${key} only in a`);
    else if (normalise(obj.sql) !== normalise(other.sql)) {
      diffs.push(`${key} differs:\n  a: ${shorten(normalise(obj.sql))}\n  b: ${shorten(normalise(other.sql))}`);
    }
  }
  for (const key of sb.keys()) if (!sa.has(key)) diffs.push(`${key} only in b`);

  for (const obj of sa.values()) {
    const other = sb.get(`table ${obj.name}`);
    // sqlite_sequence counters are irrelevant (no known table uses AUTOINCREMENT).
    if (obj.type !== 'table' || !other || obj.name === 'sqlite_sequence') continue;
    const colsA = JSON.parse(obj.columns!) as string[];
    const colsB = JSON.parse(other.columns!) as string[];
    if (colsA.join('\0') !== colsB.join('\0')) {
      diffs.push(`table ${obj.name}: columns differ (a: ${colsA.join(', ')}; b: ${colsB.join(', ')})`);
      continue;
    }
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
