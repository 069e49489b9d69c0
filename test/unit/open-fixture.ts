// The test fixtures (test/support/fixtures.ts) opened in sql.js and planned,
// for the core's unit tests: no sqlite3 CLI, no other Debian tool.
import { buildFixture, type FixtureIds } from '../support/fixtures.ts';
import { detectLayout, readSchema, type LayoutShortName } from '../../lib/core/layout.ts';
import { buildPlan, type KeptTable, type Plan } from '../../lib/core/prune.ts';
import { all, loadSqlJs, type Database, type SqlValue } from '../../lib/core/sqlite.ts';

const built = new Map<LayoutShortName, ReturnType<typeof buildFixture>>();

/**
 * A fresh copy of the fixture of `layout` in sql.js, with its snapshot ids.
 * `sql` runs on it first; the database is then reopened, so schema text
 * rewritten through writable_schema is what SQLite reads.
 */
export async function openFixture(layout: LayoutShortName, sql = ''): Promise<{ db: Database; ids: FixtureIds }> {
  if (!built.has(layout)) built.set(layout, buildFixture(layout));
  const { bytes, ids } = await built.get(layout)!;
  const SQL = await loadSqlJs();
  const db = new SQL.Database(bytes);
  if (!sql) return { db, ids };
  try {
    db.exec(sql);
    return { db: new SQL.Database(db.export()), ids };
  } finally {
    db.close();
  }
}

export function planOf(db: Database, snapshotId: string): Plan {
  const schema = readSchema(db);
  return buildPlan(db, schema, detectLayout(schema), snapshotId);
}

export function keptTable(plan: Plan, name: string): KeptTable {
  const kept = plan.tables.find((table) => table.table.name === name);
  if (!kept) throw new Error(`the plan exports no table ${name}`);
  return kept;
}

/** `columns` of the rows the plan keeps of `table`, sorted on the first. */
export function keptRows(db: Database, plan: Plan, table: string, columns: string): SqlValue[][] {
  const kept = keptTable(plan, table);
  return all(db, `SELECT ${columns} FROM ${kept.source} WHERE ${kept.table.rowid} IN (SELECT r FROM ${kept.keep}) ORDER BY 1`);
}

/** The first column of every row. */
export const firsts = (rows: SqlValue[][]) => rows.map((row) => row[0]);
