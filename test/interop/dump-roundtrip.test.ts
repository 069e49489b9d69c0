// Property: an index holding one snapshot exports to itself. Random values of
// every storage class go in; the export is opened with Debian's age, zstd and
// sqlite3 and compared with the source value by value, with typeof().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadSqlJs, type SqlValue } from '../../lib/core/sqlite.ts';
import { DirStore } from '../../lib/stores/dir-store.ts';
import { decodeManifest } from '../../lib/core/manifest.ts';
import { restoreExport } from '../../lib/pipeline/restore.ts';
import { StatementSplitter } from '../../lib/core/sql-split.ts';
import { compareDatabases } from '../support/compare.ts';
import { debianRestore, exportTo, makeKeys, tempDir, writeTemp, type Keys } from '../support/export-helpers.ts';

const schema = readFileSync(new URL('../../lib/sample/schemas/v1-path-keyed.sql', import.meta.url), 'utf8');

/**
 * A value of any SQLite storage class, with how to insert it exactly.
 * Debian 12's sqlite3 (3.40) reads some REALs of extreme exponent one ULP off
 * from any 17-digit literal (its parser, not our text; measured: magnitudes
 * below about 1e-291): the Debian property keeps reals inside 1e-290..1e300,
 * and our own restore is held to the whole range.
 */
const sqlValueWith = (real: fc.Arbitrary<number>) => fc.oneof(
  fc.constant<[string, SqlValue]>(['?', null]),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v): [string, SqlValue] => ['CAST(? AS INTEGER)', v.toString()]),
  real.map((v): [string, SqlValue] => ['CAST(? AS REAL)', v]),
  fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')).map((v): [string, SqlValue] => ['CAST(? AS TEXT)', v]),
  fc.constantFrom("'", "''", 'a\nb', 'a\r\nb', '\r', '\t', ';\n', "');\nDROP TABLE files;--", '中文', '😀', 'é').map((v): [string, SqlValue] => ['CAST(? AS TEXT)', v]),
  fc.uint8Array({ maxLength: 24 }).map((v): [string, SqlValue] => ['?', v]),
);

const indexShapeWith = (sqlValue: ReturnType<typeof sqlValueWith>) => fc.record({
  files: fc.uniqueArray(fc.record({ path: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).filter((s) => !s.includes('\0')), extra: sqlValue, mtime: sqlValue, chunks: fc.integer({ min: 0, max: 3 }) }), { selector: (f) => f.path, maxLength: 6 }),
  snapshotExtra: sqlValue,
  ratio: sqlValue,
});

const moderateReal = fc.double({ noNaN: true, min: -1e300, max: 1e300 }).filter((v) => v === 0 || Math.abs(v) >= 1e-290);
const anyReal = fc.double({ noNaN: true });

type IndexShape = ReturnType<typeof indexShapeWith> extends fc.Arbitrary<infer T> ? T : never;

async function buildIndex(shape: IndexShape) {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  db.exec(schema);
  db.exec('ALTER TABLE files ADD COLUMN extra; ALTER TABLE snapshots ADD COLUMN extra; CREATE INDEX idx_files_extra ON files(extra);');
  const id = 'host_2026-11-20T03:00:00Z';
  const [sx, sv] = shape.snapshotExtra;
  const [rx, rv] = shape.ratio;
  db.run(`INSERT INTO snapshots (id, hostname, vaultik_version, started_at, completed_at, compression_ratio, extra) VALUES (?, 'host', '1.0', 1, 2, coalesce(${rx}, 1.0), ${sx})`, [id, rv, sv]);
  let n = 0;
  for (const f of shape.files) {
    const [mx, mv] = f.mtime;
    const [ex, ev] = f.extra;
    db.run(`INSERT INTO files (path, mtime, ctime, size, mode, uid, gid, link_target, extra) VALUES (?, coalesce(${mx}, 0), 0, 1, 420, 0, 0, NULL, ${ex})`, [f.path, mv, ev]);
    db.run('INSERT INTO snapshot_files VALUES (?, ?)', [id, f.path]);
    for (let i = 0; i < f.chunks; i++, n++) {
      const chunk = `c${n}`;
      const blob = `b${n % 2}`;
      db.run('INSERT INTO chunks VALUES (?, ?, 1)', [chunk, `sha-${n}`]);
      db.run('INSERT INTO file_chunks VALUES (?, ?, ?)', [f.path, i, chunk]);
      db.run('INSERT INTO chunk_files VALUES (?, ?, ?, 1)', [chunk, f.path, i]);
      db.run('INSERT OR IGNORE INTO blobs VALUES (?, 1)', [blob]);
      db.run('INSERT INTO blob_chunks VALUES (?, ?, ?, 1)', [blob, chunk, n]);
      db.run('INSERT OR IGNORE INTO snapshot_blobs VALUES (?, ?)', [id, blob]);
    }
  }
  const bytes = db.export();
  db.close();
  return { bytes, id };
}

/** The property: the restored database equals the source, compared by the sqlite3 tool. */
async function exportsToItself(real: fc.Arbitrary<number>, restore: (out: string, id: string, keys: Keys, to: string) => Promise<void> | void) {
  const dir = tempDir();
  try {
    const keys = await makeKeys(dir.path);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(indexShapeWith(sqlValueWith(real)), async (shape) => {
        const { bytes, id } = await buildIndex(shape);
        const out = join(dir.path, `run${run++}`);
        const source = writeTemp(dir.path, `source${run}.db`, bytes);
        await exportTo(out, bytes, id, keys);
        const restored = join(out, 'restored.db');
        await restore(out, id, keys, restored);
        assert.deepEqual(compareDatabases(source, restored), []);
      }),
      { numRuns: 25 },
    );
  } finally {
    dir.remove();
  }
}

test('one-snapshot index exports to itself, every value with its storage class (Debian age | zstd | sqlite3)', () =>
  exportsToItself(moderateReal, (out, id, keys, to) => debianRestore(join(out, 'metadata', id), keys, to)));

test('one-snapshot index exports to itself through snapmeta restore, reals of any exponent included', () =>
  exportsToItself(anyReal, async (out, id, keys, to) => {
    const store = new DirStore(out);
    const { image } = await restoreExport({
      manifest: await decodeManifest((await store.get(`metadata/${id}/manifest.json.zst`))!),
      db: Readable.toWeb(createReadStream(store.path(`metadata/${id}/db.zst.age`))) as unknown as ReadableStream<Uint8Array>,
      identities: [keys.identity],
    });
    writeFileSync(to, image);
  }));

test('statement splitter: any cut of a dump replays the same statements', () => {
  const statement = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `INSERT INTO t VALUES('${s.replace(/'/g, "''")}');`),
    fc.constantFrom('CREATE TABLE "a;b" (x); ', "INSERT INTO t VALUES('--', '/*');", 'CREATE TABLE t (x -- a comment; with a semicolon\n);', 'SELECT 1 /* ; */;', 'INSERT INTO [x;y] VALUES(`;`);', "INSERT INTO t VALUES('it''s');"),
  );
  fc.assert(
    fc.property(fc.array(statement, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (stmts, cuts) => {
      const text = stmts.join('\n') + (stmts.length ? '\n' : '');
      const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const splitter = new StatementSplitter();
      let out = '';
      let prev = 0;
      for (const p of [...points, text.length]) {
        const done = splitter.push(text.slice(prev, p));
        // Every piece handed out ends with a complete statement.
        if (done) assert.ok(done.trimEnd().endsWith(';'), `piece ends mid-statement: ${JSON.stringify(done)}`);
        out += done;
        prev = p;
      }
      assert.equal(out + splitter.rest(), text);
      assert.equal(splitter.rest().trim(), '');
    }),
    { numRuns: 500 },
  );
});
