// Fuzz over schema text (issue #14 point 7): variants of the fixture indexes
// whose CREATE texts carry comments anywhere, odd quoting and whitespace, odd
// names and declared types, literal and raising DEFAULTs, raising CHECKs and
// generated columns, collations, expression and partial indexes, WITHOUT
// ROWID and STRICT tables, and virtual tables (test/support/hostile/schema-variants.ts).
// The property: the export is refused with UNSAFE_SCHEMA exactly when a name
// it cannot write is in a table it keeps; otherwise it is published, restored
// by `snapmeta restore`, and equal — rows typed value by value, and structure
// as SQLite reports it, less what the export leaves out — to the same
// snapshot pruned the sqlite3 CLI's way (DELETEs, in sql.js, on the benign
// twin of the upload). One case in ten is also restored with Debian's
// `age -d | zstd -d | sqlite3 -safe` and compared with the sqlite3 CLI.
// SNAPMETA_SCHEMA_FUZZ_MS / _RUNS / _SEED widen or replay a run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { isSnapmetaError } from '../../lib/core/errors.ts';
import { decodeManifest } from '../../lib/core/manifest.ts';
import { loadSqlJs, type Database } from '../../lib/core/sqlite.ts';
import { ident } from '../../lib/core/sql-text.ts';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { publishExport } from '../../lib/pipeline/publish.ts';
import { restoreExport } from '../../lib/pipeline/restore.ts';
import { compareDatabases, rowText } from '../support/compare.ts';
import { makeKeys, tempDir, type Keys } from '../support/export-helpers.ts';
import { buildFixture, type FixtureIds } from '../support/fixtures.ts';
import { MemoryStore } from '../../lib/stores/memory-store.ts';
import { buildVariant, readFixture, variantArbitrary, type BuiltVariant, type Variant } from '../support/hostile/schema-variants.ts';
import { INDEX_OBJECTS_SQL, nativePruneSql, toIndexObjects } from '../support/native-prune.ts';
import { collationIn, collationProbe, columnKey, readStructures, structureDiffs, type TableStructure } from '../support/structure.ts';

const BUDGET_MS = Number(process.env.SNAPMETA_SCHEMA_FUZZ_MS ?? 10_000);
const MAX_RUNS = Number(process.env.SNAPMETA_SCHEMA_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.SNAPMETA_SCHEMA_FUZZ_SEED ?? 14);
const DEBIAN_EVERY = 10;

const SQL = await loadSqlJs();
let dir: ReturnType<typeof tempDir>;
let keys: Keys;
const fixtures = {} as Record<'v1' | 'v2', { ids: FixtureIds; read: ReturnType<typeof readFixture> }>;

before(async () => {
  dir = tempDir('snapmeta-schema-fuzz-');
  keys = await makeKeys(dir.path);
  for (const layout of ['v1', 'v2'] as const) {
    const { bytes, ids } = await buildFixture(layout);
    fixtures[layout] = { ids, read: readFixture(bytes, SQL) };
  }
});
after(() => dir.remove());

const rowsOf = (db: Database, sql: string) => db.exec(sql).flatMap((r) => r.values.map((v) => Object.fromEntries(r.columns.map((c, i) => [c, v[i]]))));

function structuresOf(db: Database): Map<string, TableStructure> {
  return readStructures((sql) => rowsOf(db, sql), (columns) => new Map(columns.map((c) => {
    const row = db.exec(collationProbe(c))[0]?.values.find(([, opcode, , , , p4]) => collationIn(opcode, p4));
    return [columnKey(c), row ? collationIn(row[1], row[5])! : 'BINARY'];
  })));
}

/** The benign twin pruned the sqlite3 CLI's way (test/support/native-prune.ts), less what the export skips whole. */
function reference(v: Variant, built: BuiltVariant): Database {
  const db = new SQL.Database(built.benign);
  db.exec(built.referenceSql);
  const objects = toIndexObjects(rowsOf(db, INDEX_OBJECTS_SQL) as { type: string; name: string; columns: string | null }[]);
  db.exec(nativePruneSql(v.layout, fixtures[v.layout].ids[v.snapshot], objects));
  return db;
}

/** The reference's structure with what the export leaves out left out: generated columns, expression DEFAULTs, odd types. */
function expected(structures: Map<string, TableStructure>, built: BuiltVariant): Map<string, TableStructure> {
  return new Map([...structures].map(([name, s]) => [name, {
    ...s,
    columns: s.columns.filter((c) => c.hidden === 0).map((c) => ({
      ...c,
      type: built.types.get(`${name}\0${c.name}`) ?? c.type,
      dflt: built.expressionDefaults.has(`${name}\0${c.name}`) ? null : c.dflt,
    })),
  }]));
}

/** Rows of each table of `ours`, typed, as sorted multisets, against the reference's. */
function rowDiffs(ours: Database, ref: Database, tables: Map<string, TableStructure>): string[] {
  const diffs: string[] = [];
  for (const [name, s] of tables) {
    const cols = rowText(s.columns.filter((c) => c.hidden === 0).map((c) => c.name));
    const read = (db: Database) => db.exec(`SELECT ${cols} FROM ${ident(name)}`).flatMap((r) => r.values.map((v) => String(v[0]))).sort();
    const [a, b] = [read(ref), read(ours)];
    if (a.join('\n') !== b.join('\n')) diffs.push(`table ${name}: reference ${a.length} rows, export ${b.length}; first difference: ${a.find((x, i) => x !== b[i]) ?? b[a.length]}`);
  }
  return diffs;
}

/** Published bytes through Debian's tools, compared with `snapmeta restore`'s image by the sqlite3 CLI. */
function debianCheck(n: number, db: Uint8Array, image: Uint8Array): string[] {
  const ours = join(dir.path, `ours-${n}.db`);
  const theirs = join(dir.path, `debian-${n}.db`);
  writeFileSync(ours, image);
  execFileSync('bash', ['-o', 'pipefail', '-c', 'age -d -i "$1" | zstd -dc | sqlite3 -safe -bail "$2"', 'restore', keys.identityFile, theirs], { input: db });
  return compareDatabases(theirs, ours);
}

test(`schema fuzz: refused with UNSAFE_SCHEMA exactly when a name cannot be written, else restores exactly (${BUDGET_MS} ms, seed ${SEED})`, { timeout: BUDGET_MS + 120_000 }, async (t) => {
  const tally = { cases: 0, exported: 0, refused: 0, debian: 0, slowest: 0, peakRss: 0 };
  const seen = new Map<string, number>();
  const count = (what: string, yes: boolean) => { if (yes) seen.set(what, (seen.get(what) ?? 0) + 1); };
  await fc.assert(fc.asyncProperty(variantArbitrary, async (v) => {
    const t0 = performance.now();
    const n = ++tally.cases;
    const built = await buildVariant(v, fixtures[v.layout].read);
    count('generated column', v.extras.some((e) => e.column.generated) || v.agents.some((a) => a.columns.some((c) => c.generated)));
    count('expression DEFAULT', built.expressionDefaults.size > 0);
    count('odd declared type', built.types.size > 0);
    count('expression or partial index', v.indexes.some((i) => i.kind !== 'plain'));
    count('WITHOUT ROWID', v.agents.some((a) => a.kind === 'without rowid'));
    count('STRICT', v.agents.some((a) => a.kind === 'strict'));
    count('virtual table', v.virtual !== 'none');
    count('trailing comments', v.trailingComments);
    const store = new MemoryStore();
    let published: { manifestKey: string; dbKey: string };
    try {
      const job = await openExport(built.hostile, { snapshotId: fixtures[v.layout].ids[v.snapshot] });
      try {
        published = await publishExport(job, store, { recipients: [keys.recipient], source: { sha256: `case-${n}`, size: built.hostile.byteLength } });
      } finally {
        job.close();
      }
    } catch (err) {
      if (built.refused && isSnapmetaError(err) && err.code === 'UNSAFE_SCHEMA') {
        tally.refused++;
        return;
      }
      throw err;
    }
    assert.ok(!built.refused, 'exported, though a table it keeps has a name holding a carriage return');
    const dbBytes = (await store.get(published.dbKey))!;
    const { image } = await restoreExport({
      manifest: await decodeManifest((await store.get(published.manifestKey))!),
      db: new Response(dbBytes as Uint8Array<ArrayBuffer>).body!,
      identities: [keys.identity],
    });
    const ours = new SQL.Database(image);
    const ref = reference(v, built);
    try {
      const oursShape = structuresOf(ours);
      assert.deepEqual([...structureDiffs(expected(structuresOf(ref), built), oursShape), ...rowDiffs(ours, ref, oursShape)], []);
    } finally {
      ours.close();
      ref.close();
    }
    if (n % DEBIAN_EVERY === 1) {
      assert.deepEqual(debianCheck(n, dbBytes, image), [], 'Debian sqlite3 -safe restores the same database');
      tally.debian++;
    }
    tally.exported++;
    tally.slowest = Math.max(tally.slowest, performance.now() - t0);
    tally.peakRss = Math.max(tally.peakRss, process.memoryUsage().rss);
  }), { seed: SEED, numRuns: MAX_RUNS, interruptAfterTimeLimit: BUDGET_MS, markInterruptAsFailure: false, endOnFailure: true, includeErrorInReport: true });
  t.diagnostic(`${tally.cases} cases (seed ${SEED}): ${tally.exported} exported and restored exactly (${tally.debian} also with Debian sqlite3 -safe), `
    + `${tally.refused} UNSAFE_SCHEMA; slowest ${Math.round(tally.slowest)} ms; peak RSS ${Math.round(tally.peakRss / 2 ** 20)} MiB`);
  t.diagnostic(`cases holding: ${[...seen].map(([k, c]) => `${k} ${c}`).join(', ')}`);
  assert.ok(tally.cases >= 30, `only ${tally.cases} cases ran`);
  assert.ok(tally.debian >= 3 && tally.refused >= 1, JSON.stringify(tally));
});
