// Hostile schema text (issue #14, "Hostile input, round two"): nothing the
// upload wrote runs in our process (pruning, checks, dump, `snapmeta
// restore`), and every export published restores with Debian's
// `age -d | zstd -d | sqlite3 -safe` and with `snapmeta restore`, exactly as
// the sqlite3 CLI's own pruning of the same file — or the upload is refused
// with a code before anything is written. The cases are in
// test/support/hostile/schema-cases.ts; docs/reliability.md lists them.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SnapmetaError } from '../../lib/core/errors.ts';
import { readSchema } from '../../lib/core/layout.ts';
import { loadSqlJs } from '../../lib/core/sqlite.ts';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { sampleIndexSql, sampleSnapshotIds } from '../../lib/sample/sample-index.ts';
import { debianManifest, exportTo, makeKeys, tempDir, type Keys } from '../support/export-helpers.ts';
import { buildFixture, type FixtureIds } from '../support/fixtures.ts';
import { exportExactly, hostileIndex, type ExactExport } from '../support/hostile/indexes.ts';
import { RAISE, rewrite, SCHEMA_CASES, SENTINEL, type SchemaCase } from '../support/hostile/schema-cases.ts';
import { sqlite, sqliteValue } from '../support/sqlite-cli.ts';

let dir: ReturnType<typeof tempDir>;
let keys: Keys;
const fixtures = {} as Record<'v1' | 'v2', { bytes: Uint8Array; ids: FixtureIds }>;

before(async () => {
  dir = tempDir('snapmeta-hostile-schema-');
  keys = await makeKeys(dir.path);
  fixtures.v1 = await buildFixture('v1');
  fixtures.v2 = await buildFixture('v2');
});
after(() => dir.remove());

const idOf = (c: SchemaCase) => fixtures[c.layout].ids[c.snapshot];
const build = (c: SchemaCase) => hostileIndex(dir.path, fixtures[c.layout].bytes, c.sql);

/** A case's export (of `index`, when already built), restored both ways and compared with the sqlite3 CLI's pruning (its referenceSql first). */
async function exportCase(c: SchemaCase, index = build(c)): Promise<ExactExport & { changes: string[] }> {
  assert.equal(c.expect, 'exported');
  const exact = await exportExactly(dir.path, keys, index.path, c.layout, idOf(c), c.referenceSql);
  return { ...exact, changes: exact.result.schemaChanges };
}

let refusedRuns = 0;

/** A case refused with its code and a message naming the construct, before anything is written. */
async function refuses(t: TestContext, c: SchemaCase, message: RegExp): Promise<void> {
  const index = build(c);
  const out = join(dir.path, `refused-${++refusedRuns}`);
  const t0 = performance.now();
  await assert.rejects(exportTo(out, index.bytes, idOf(c), keys), (err: unknown) => {
    assert.ok(err instanceof SnapmetaError, String(err));
    assert.equal(err.code, c.expect, err.message);
    assert.match(err.message, message);
    assert.doesNotMatch(err.message, /[\r\n]/);
    return true;
  });
  t.diagnostic(`${c.title}: ${c.expect} in ${Math.round(performance.now() - t0)} ms`);
  // A refusal found while dumping leaves the store's empty folders, no object.
  const files = existsSync(out) ? readdirSync(out, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()) : [];
  assert.deepEqual(files.map((e) => e.name), [], 'nothing written');
}

/** The export's plain SQL, as `age -d | zstd -d` gives it. */
function dumpText(exact: ExactExport): string {
  return execFileSync('bash', ['-o', 'pipefail', '-c', 'age -d -i "$1" "$2" | zstd -dc', 'dump', keys.identityFile, join(exact.exportDir, 'db.zst.age')],
    { encoding: 'utf8', maxBuffer: 1 << 28 });
}

const sorted = (list: string[]) => [...list].sort();

describe('schema text is written by the export, never copied (points 2 and 7)', () => {
  it('an `uploads` CREATE TABLE ending in `-- agent note` restores with sqlite3 -safe and snapmeta restore, exactly', async () => {
    const c = SCHEMA_CASES.agentNote;
    const index = build(c);
    assert.match(sqliteValue(index.path, "SELECT sql FROM sqlite_schema WHERE name = 'uploads'")!, /-- agent note$/);
    const exact = await exportCase(c, index);
    assert.deepEqual(exact.diffs, []);
    assert.ok(exact.result.rows.uploads > 0);
    assert.doesNotMatch(dumpText(exact), /agent note/);
  });

  it('comments holding `;`, quotes and a `.shell` line, tabs, CRLF, four quoting styles: exact, and nothing runs even without -safe', async () => {
    rmSync(SENTINEL, { force: true });
    const exact = await exportCase(SCHEMA_CASES.comments);
    assert.deepEqual(exact.diffs, []);
    const text = dumpText(exact);
    assert.doesNotMatch(text, /shell|\/\*/);
    sqlite(join(dir.path, 'comments-plain.db'), text);
    assert.equal(existsSync(SENTINEL), false);
  });

  it('names with quotes, `;--`, control characters, and a newline before `.shell`: exact, nothing runs', async () => {
    rmSync(SENTINEL, { force: true });
    const exact = await exportCase(SCHEMA_CASES.names);
    assert.deepEqual(exact.diffs, []);
    assert.equal(exact.result.rows['snapshot "odd" ;--'], 1);
    sqlite(join(dir.path, 'names-plain.db'), dumpText(exact));
    assert.equal(existsSync(SENTINEL), false);
  });

  it('a carriage return in a column or index name, a column name that is not UTF-8: UNSAFE_SCHEMA', async (t) => {
    await refuses(t, SCHEMA_CASES.nameCarriageReturn, /table "snapshot_cr", column "a\\rb": its name holds a carriage return/);
    await refuses(t, SCHEMA_CASES.indexNameCarriageReturn, /table "files", index "files\\rby size": its name holds a carriage return/);
    await refuses(t, SCHEMA_CASES.nameNotUtf8, /table "snapshot_latin1", column "caf\uFFFD": its name is not valid UTF-8/);
  });

  it('declared types holding comments or a newline are written as their affinity; every value stores as in the upload', async () => {
    const exact = await exportCase(SCHEMA_CASES.types);
    assert.deepEqual(sorted(exact.diffs), [
      'table snapshot_odd: column a differs (a: INT /* ; */ EGER COLLATE BINARY; b: INT COLLATE BINARY)',
      'table snapshot_odd: column b differs (a: CHAR -- x\n  VARYING(3) COLLATE BINARY; b: TEXT COLLATE BINARY)',
      'table snapshot_odd: column c differs (a: DOUBLE /* , */ PRECISION COLLATE BINARY; b: REAL COLLATE BINARY)',
    ]);
    assert.deepEqual(exact.changes, [
      'snapshot_odd.a: declared type "INT /* ; */ EGER" written as INT (the same affinity)',
      'snapshot_odd.b: declared type "CHAR -- x\\n  VARYING(3)" written as TEXT (the same affinity)',
      'snapshot_odd.c: declared type "DOUBLE /* , */ PRECISION" written as REAL (the same affinity)',
    ]);
    // Rows compared equal above; the affinities did their work on them.
    assert.equal(sqliteValue(exact.restored, "SELECT group_concat(typeof(a) || typeof(b) || typeof(c), ' ') FROM (SELECT * FROM snapshot_odd ORDER BY rowid LIMIT 2)"),
      'integertextreal integertextreal');
  });
});

describe('nothing the upload wrote is evaluated (point 1)', () => {
  it('a CHECK on snapshot_blobs costing a 20 MB zeroblob a row, or raising, never runs: prune time within 2x a clean index', async (t) => {
    const opts = { layout: 'v2' as const, snapshots: 2, filesPerSnapshot: 3000 };
    const clean = join(dir.path, 'timing-clean.db');
    sqlite(clean, sampleIndexSql(opts));
    const id = sampleSnapshotIds(opts)[1];
    const key = 'PRIMARY KEY (snapshot_id, blob_id)';
    const heavy = hostileIndex(dir.path, readFileSync(clean), rewrite('snapshot_blobs', key, `${key}, CHECK (length(hex(zeroblob(20000000 + length(blob_id)))) > 0)`));
    const raising = hostileIndex(dir.path, readFileSync(clean), `${rewrite('snapshot_blobs', key, `${key}, CHECK (${RAISE})`)}
      ${rewrite('files', 'link_target TEXT', `link_target TEXT CHECK (${RAISE})`)}`);
    const prune = async (bytes: Uint8Array) => {
      const job = await openExport(bytes, { snapshotId: id });
      job.close();
      return job.timings.prune;
    };
    const best = { clean: Infinity, heavy: Infinity };
    for (let round = 0; round < 3; round++) {
      best.clean = Math.min(best.clean, await prune(readFileSync(clean)));
      best.heavy = Math.min(best.heavy, await prune(heavy.bytes));
    }
    t.diagnostic(`prune of a 3,000-file index (best of 3): clean ${Math.round(best.clean)} ms, zeroblob CHECK ${Math.round(best.heavy)} ms`);
    assert.ok(best.heavy <= 2 * best.clean, JSON.stringify(best));
    // A CHECK that raises whenever evaluated: nothing evaluates it, and the
    // export restores both ways (the reference prunes a copy without it).
    const exact = await exportExactly(dir.path, keys, raising.path, 'v2', id,
      `${rewrite('snapshot_blobs', `, CHECK (${RAISE})`, '')}\n${rewrite('files', ` CHECK (${RAISE})`, '')}`);
    assert.deepEqual(exact.diffs, []);
    assert.ok(exact.result.rows.snapshot_blobs > 100);
  });

  it('generated columns, the virtual ones rewritten to raise, are never read: left out and listed; AUTOINCREMENT kept', async () => {
    const exact = await exportCase(SCHEMA_CASES.generated);
    assert.deepEqual(sorted(exact.diffs), [
      'table files: column depth only in a (INTEGER generated (hidden=2))',
      'table snapshot_events: column len only in a (INTEGER generated (hidden=3))',
      'table snapshot_events: column shout only in a (TEXT generated (hidden=2))',
    ]);
    assert.deepEqual(exact.changes, [
      "files.depth: generated column left out (its expression is the upload's)",
      "snapshot_events.shout: generated column left out (its expression is the upload's)",
      "snapshot_events.len: generated column left out (its expression is the upload's)",
    ]);
    assert.deepEqual(debianManifest(exact.exportDir).schema_changes, exact.changes, 'the manifest lists them');
    assert.equal(exact.result.rows.snapshot_events, 2);
    assert.ok(exact.result.skippedTables.includes('sqlite_sequence'));
    assert.match(sqliteValue(exact.restored, "SELECT sql FROM sqlite_schema WHERE name = 'snapshot_events'")!, /"id" INTEGER PRIMARY KEY AUTOINCREMENT/);
  });

  it('expression DEFAULTs, one raising, are left out and listed; literal ones are kept', async () => {
    const exact = await exportCase(SCHEMA_CASES.defaults);
    assert.deepEqual(sorted(exact.diffs), [
      'table snapshot_marks: column n differs (a: INTEGER DEFAULT 1 + 1 COLLATE BINARY; b: INTEGER COLLATE BINARY)',
      `table snapshot_tags: column added_at differs (a: INTEGER DEFAULT ${RAISE} COLLATE BINARY; b: INTEGER COLLATE BINARY)`,
    ]);
    assert.deepEqual(exact.changes, [`snapshot_tags.added_at: DEFAULT ${RAISE} left out (not a literal)`, 'snapshot_marks.n: DEFAULT 1 + 1 left out (not a literal)']);
    const defaults = sqliteValue(exact.restored, "SELECT group_concat(dflt_value, ' | ') FROM (SELECT dflt_value FROM pragma_table_info('files') WHERE dflt_value IS NOT NULL UNION ALL SELECT dflt_value FROM pragma_table_info('snapshot_marks') WHERE dflt_value IS NOT NULL)");
    assert.equal(defaults, "'' | -1.5e3 | 'x' | X'00' | CURRENT_TIMESTAMP");
  });

  it('an expression index and a partial index, rewritten to raise, are left out and listed; plain ones keep DESC and collations', async () => {
    const exact = await exportCase(SCHEMA_CASES.indexes);
    assert.deepEqual(exact.diffs, []);
    assert.deepEqual(exact.changes, ['files: index agent_files_lower left out (on an expression)', 'snapshot_tags: index agent_tags_named left out (partial: its WHERE is an expression)']);
    assert.equal(sqliteValue(exact.restored, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE name LIKE 'agent_%' ORDER BY name)"), 'agent_files_size,agent_idx_files_mtime,agent_tags_unique');
  });

  it('collations: NOCASE and RTRIM kept; one SQLite lacks is left off a plain column and index, and refused on a compared column or a unique key', async (t) => {
    const exact = await exportCase(SCHEMA_CASES.collations);
    assert.deepEqual(exact.diffs, []);
    assert.deepEqual(exact.changes, ['snapshot_notes.pad: COLLATE agent_order left out (not built into SQLite)',
      'snapshot_notes: index snapshot_notes_pad left out (COLLATE AGENT_ORDER is not built into SQLite)']);
    await refuses(t, SCHEMA_CASES.collationCompared, /table "snapshot_files", column "snapshot_id": COLLATE agent_order is not built into SQLite .* the export compares this column/);
    await refuses(t, SCHEMA_CASES.collationUnique, /table "snapshot_tags", index "agent_tags_ordered", column "tag": the unique key uses COLLATE AGENT_ORDER/);
  });

  it('rows the export adds to snapshot_blobs: a CHECK they violate never runs; a NOT NULL expression DEFAULT is refused only when needed', async (t) => {
    const check = await exportCase(SCHEMA_CASES.checkOnAdded);
    assert.deepEqual(check.diffs, []);
    assert.equal(sqliteValue(check.restored, 'SELECT count(*) FROM snapshot_blobs WHERE agent_verified = 0'), '4', 'the rows added take the literal DEFAULT 0');
    await refuses(t, SCHEMA_CASES.defaultOnAdded, /column "?agent_verified"?: NOT NULL with no literal DEFAULT .* the 4 rows the export adds/);
    const fine = await exportCase(SCHEMA_CASES.defaultNotNeeded);
    assert.deepEqual(fine.diffs, ['table snapshot_blobs: column agent_verified differs (a: INTEGER NOT NULL DEFAULT zeroblob(1000000001) COLLATE BINARY; b: INTEGER NOT NULL COLLATE BINARY)']);
    await refuses(t, SCHEMA_CASES.defaultUnread, /column "agent_verified": NOT NULL, yet rows older than the column read NULL/);
  });
});

describe('SQLite classifies the tables, not a reading of their text (point 5)', () => {
  it('CREATE/**/VIRTUAL TABLE with a snapshot_id column is a virtual table: skipped and named, the rest exact', async () => {
    const c = SCHEMA_CASES.virtualInDisguise;
    const index = build(c);
    assert.match(sqliteValue(index.path, "SELECT sql FROM sqlite_schema WHERE name = 'snapshot_search'")!, /^CREATE\/\*\*\/VIRTUAL TABLE/);
    const SQL = await loadSqlJs();
    const db = new SQL.Database(index.bytes);
    try {
      const kinds = Object.fromEntries(readSchema(db).tables.map((table) => [table.name, table.kind]));
      assert.equal(kinds.snapshot_search, 'virtual');
      assert.equal(kinds.snapshot_search_content, 'shadow');
      assert.equal(kinds.files, 'table');
    } finally {
      db.close();
    }
    const exact = await exportCase(c, index);
    assert.deepEqual(exact.diffs, []);
    for (const name of ['snapshot_search', 'snapshot_search_content', 'snapshot_search_segdir']) assert.ok(exact.result.skippedTables.includes(name), name);
  });

  it('WITHOUT ROWID: an agent table is skipped and named, a layout table is UNKNOWN_LAYOUT; STRICT stays STRICT', async () => {
    const exact = await exportCase(SCHEMA_CASES.tableKinds);
    assert.deepEqual(exact.diffs, []);
    assert.ok(exact.result.skippedTables.includes('snapshot_wr'));
    assert.equal(sqliteValue(exact.restored, "SELECT group_concat(typeof(v), ',') FROM (SELECT v FROM snapshot_strict ORDER BY n)"), 'text,integer,real,blob');
    const script = sampleIndexSql({ layout: 'v1', snapshots: 1, filesPerSnapshot: 3 }).replace('    size       INTEGER NOT NULL\n);', '    size       INTEGER NOT NULL\n) WITHOUT ROWID;');
    const path = join(dir.path, 'wr-layout.db');
    sqlite(path, script);
    await assert.rejects(openExport(readFileSync(path), { snapshotId: 'x' }), { code: 'UNKNOWN_LAYOUT', message: /table chunks is WITHOUT ROWID/ });
  });
});
