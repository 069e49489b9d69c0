// Hostile and broken uploads against the core (openExport + publishExport) and
// through the local stack: each ends in its specific error code (with a
// receipt, and no retry) or in an export that equals the sqlite3 CLI's own
// pruning, and nothing the upload carries is ever executed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { DirStore } from '../../lib/stores/dir-store.ts';
import { SnapmetaError, type ErrorCode } from '../../lib/core/errors.ts';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { publishExport } from '../../lib/pipeline/publish.ts';
import { sha256Hex } from '../../lib/codecs/hash.ts';
import { restoreExport } from '../../lib/pipeline/restore.ts';
import { decodeManifest } from '../../lib/core/manifest.ts';
import { sampleIndex, sampleIndexSql, sampleSnapshotIds } from '../../lib/sample/sample-index.ts';
import { receiptKey } from '../../lib/core/keys.ts';
import { compressFrame } from '../../lib/codecs/zstd.ts';
import { tableRowCounts } from '../support/compare.ts';
import { debianRestore, exportTo, makeKeys, tempDir, writeTemp, type Keys } from '../support/export-helpers.ts';
import { buildFixture, type FixtureIds } from '../support/fixtures.ts';
import { startHarness, waitFor, type Harness } from '../support/aws/harness.ts';
import { exportExactly, hostileIndex } from '../support/hostile/indexes.ts';
import { prng, randomBytes } from '../support/hostile/random.ts';
import {
  blockBomb, COMPRESSED, hugeWindowFrame, manyTinyCompressedFrames, manyTinyFrames, RAW, RLE, rleBomb, withLyingContentSize,
} from '../support/hostile/zstd-bombs.ts';
import { sqlite, sqliteValue } from '../support/sqlite-cli.ts';

let dir: ReturnType<typeof tempDir>;
let keys: Keys;
const fixtures = {} as Record<'v1' | 'v2', { bytes: Uint8Array; ids: FixtureIds }>;

before(async () => {
  dir = tempDir('snapmeta-hostile-');
  keys = await makeKeys(dir.path);
  fixtures.v1 = await buildFixture('v1');
  fixtures.v2 = await buildFixture('v2');
});
after(() => dir.remove());

/** The outcome of opening and dumping an upload: its error code, or 'exported' with the dump's hash. */
async function outcome(bytes: Uint8Array, snapshotId: string, maxIndexBytes?: number): Promise<string> {
  try {
    const job = await openExport(bytes, { snapshotId, maxIndexBytes });
    try {
      const hash = createHash('sha256');
      for (const chunk of job.dump()) hash.update(chunk);
      return `exported ${hash.digest('hex').slice(0, 12)}`;
    } finally {
      job.close();
    }
  } catch (err) {
    if (err instanceof SnapmetaError) return err.code;
    return `plain ${(err as Error).name}: ${(err as Error).message}`;
  }
}

async function rejects(bytes: Uint8Array, snapshotId: string, code: ErrorCode, maxIndexBytes?: number) {
  assert.equal(await outcome(bytes, snapshotId, maxIndexBytes), code);
}

const PAGE = 4096;

describe('broken input', () => {
  it('random bytes are NOT_SQLITE; an SQLite header over random pages is CORRUPT; an empty file is NOT_SQLITE', async () => {
    const rand = prng(7);
    const id = fixtures.v1.ids.full;
    for (const size of [1, 15, 99, 100, 4096, 1 << 20]) await rejects(randomBytes(rand, size), id, 'NOT_SQLITE');
    await rejects(new Uint8Array(0), id, 'NOT_SQLITE');
    for (const pages of [1, 2, 16]) {
      const bytes = randomBytes(rand, pages * PAGE);
      Buffer.from(fixtures.v1.bytes.subarray(0, 100)).copy(bytes);
      bytes.writeUInt32BE(pages, 28);
      await rejects(bytes, id, 'CORRUPT');
    }
  });

  it('a database truncated at any page boundary, or mid-page, is CORRUPT', async () => {
    const { bytes, ids } = fixtures.v2;
    const pages = bytes.byteLength / PAGE;
    const rand = prng(11);
    const cuts = [...Array.from({ length: pages - 1 }, (_, p) => (p + 1) * PAGE), ...Array.from({ length: 20 }, () => 16 + Math.floor(rand() * (bytes.byteLength - 16)))];
    for (const cut of cuts) await rejects(bytes.subarray(0, cut), ids.incremental, 'CORRUPT');
  });

  // SQLite has no page checksums: damage inside an overflow page (a long path)
  // reads as other bytes. The dump checks each kept row against the table's
  // unique indexes (lib/core/checks.ts), which still hold the originals.
  it('a bad page anywhere: CORRUPT, or the same export as without the damage', async (t) => {
    const { bytes, ids } = fixtures.v1;
    const clean = await outcome(bytes, ids.awkward);
    const tally: Record<string, number> = {};
    const changed: number[] = [];
    for (let p = 1; p < bytes.byteLength / PAGE; p++) {
      for (const fill of [0x00, 0xa5]) {
        const copy = Buffer.from(bytes).fill(fill, p * PAGE, (p + 1) * PAGE);
        const got = await outcome(copy, ids.awkward);
        const kind = got === clean ? 'same export' : got.startsWith('exported') ? 'different export' : got;
        tally[kind] = (tally[kind] ?? 0) + 1;
        if (kind === 'different export') changed.push(p + 1);
      }
    }
    t.diagnostic(`each page zeroed, then filled with 0xa5: ${JSON.stringify(tally)}`);
    assert.deepEqual(changed, [], 'pages whose damage changed the export without an error');
    assert.deepEqual(Object.keys(tally).filter((k) => !['CORRUPT', 'same export'].includes(k)), [], JSON.stringify(tally));
    assert.ok(tally.CORRUPT > 0 && tally['same export'] > 0, JSON.stringify(tally));
  });

  it('a database with the layout but no rows is SNAPSHOT_NOT_FOUND; a snapshot without files exports and restores', async () => {
    const empty = hostileIndex(dir.path, new Uint8Array(0), sampleIndexSql({ layout: 'v1', snapshots: 1, filesPerSnapshot: 1 })
      .replace(/COMMIT;\s*$/, 'DELETE FROM files; DELETE FROM chunks; DELETE FROM file_chunks; DELETE FROM chunk_files; DELETE FROM blobs;'
        + ' DELETE FROM blob_chunks; DELETE FROM snapshots; DELETE FROM snapshot_files; DELETE FROM snapshot_blobs; COMMIT; VACUUM;'));
    assert.equal(sqliteValue(empty.path, 'SELECT count(*) FROM files'), '0');
    await assert.rejects(openExport(empty.bytes, { snapshotId: 'web1.example.com_2026-11-18T03:00:00Z' }), { code: 'SNAPSHOT_NOT_FOUND', message: /it has no snapshots/ });

    const { bytes, ids } = fixtures.v2;
    const exact = await exportExactly(dir.path, keys, writeTemp(dir.path, 'v2.db', bytes), 'v2', ids.empty);
    assert.deepEqual(exact.diffs, []);
    assert.equal(exact.result.rows.files, 0);
    assert.equal(exact.result.blobCount, 0);
  });

  it('a .db.zst that inflates to 32 GiB from 1 MiB stops at the limit, without inflating it into memory; one that lies about its size is CORRUPT', async (t) => {
    const bomb = rleBomb(262_144);
    assert.equal(bomb.byteLength, 1_048_582);
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    await rejects(bomb, fixtures.v1.ids.full, 'INDEX_TOO_LARGE', 64 << 20);
    const ms = performance.now() - t0;
    const grew = process.memoryUsage().rss - rss;
    t.diagnostic(`32 GiB bomb stopped at 64 MiB in ${Math.round(ms)} ms, RSS +${Math.round(grew / 2 ** 20)} MiB`);
    assert.ok(ms < 5_000, `${ms} ms`);
    assert.ok(grew < 512 << 20, `RSS grew by ${grew} bytes`);
    // A frame that lies about its size (1000 bytes declared, 16 MiB inside) is CORRUPT.
    const zeros = writeTemp(dir.path, 'zeros', Buffer.alloc(16 << 20));
    const declared = execFileSync('zstd', ['-q', '-c', '-1', zeros], { maxBuffer: 1 << 26 });
    await rejects(withLyingContentSize(declared, 1000), fixtures.v1.ids.full, 'CORRUPT', 64 << 20);
    // Compressed garbage is NOT_SQLITE.
    await rejects(await compressFrame(randomBytes(prng(3), 10_000), 3), fixtures.v1.ids.full, 'NOT_SQLITE');
  });

  // Issue #14: a 400 KB frame asking for a 1 GiB window and holding 100 000
  // one-byte RLE blocks ran past 120 s at 1.1 GB RSS (fzstd zeroed the window,
  // then moved all of it once per block). Each is now refused from its headers.
  it('zstd windows, blocks and frames that cost more than they yield are refused in milliseconds with their code, before any window is allocated', async (t) => {
    const nodeHasZstd = typeof (zlib as unknown as Record<string, unknown>).zstdDecompress === 'function';
    const cases: [string, Buffer, ErrorCode][] = [
      ['1 GiB window, 100 000 one-byte RLE blocks (#14)', blockBomb({ windowLog: 30, blocks: 100_000, type: RLE }), 'INDEX_TOO_LARGE'],
      ['2 GiB window, one byte', hugeWindowFrame(), 'INDEX_TOO_LARGE'],
      ['144 MiB window, just over the bound', blockBomb({ windowLog: 27, mantissa: 1, blocks: 1, type: RLE }), 'INDEX_TOO_LARGE'],
      ['128 MiB window (the bound), 100 000 one-byte RLE blocks', blockBomb({ windowLog: 27, blocks: 100_000, type: RLE }), 'CORRUPT'],
      ['100 000 one-byte raw blocks', blockBomb({ windowLog: 23, blocks: 100_000, type: RAW }), 'CORRUPT'],
      ['5 000 000 empty raw blocks, 8 MiB window', blockBomb({ windowLog: 23, blocks: 5_000_000, type: RAW, size: 0 }), 'CORRUPT'],
      ['100 000 one-byte frames', manyTinyFrames(100_000), 'CORRUPT'],
      ['1 000 000 one-byte compressed frames', manyTinyCompressedFrames(1_000_000), 'CORRUPT'],
      // Node >= 22.15 inflates these within the limit (1 MB of 'A'); Node 20's addon cannot stop at one, so the frame is refused after 6 passes.
      ['1 000 000 compressed blocks of one byte', blockBomb({ windowLog: 23, blocks: 1_000_000, type: COMPRESSED }), nodeHasZstd ? 'NOT_SQLITE' : 'INDEX_TOO_LARGE'],
      ['128 MiB window (the bound), one byte', blockBomb({ windowLog: 27, blocks: 1, type: RLE }), 'NOT_SQLITE'],
    ];
    for (const [name, bytes, code] of cases) {
      const rss = process.memoryUsage().rss;
      const t0 = performance.now();
      const got = await outcome(bytes, 'x', 1024 ** 3);
      const ms = performance.now() - t0;
      const grew = process.memoryUsage().rss - rss;
      t.diagnostic(`${name}: ${bytes.byteLength} bytes, ${got} in ${ms.toFixed(1)} ms, RSS +${Math.round(grew / 2 ** 20)} MiB`);
      assert.equal(got, code, name);
      assert.ok(ms < 2_000, `${name}: ${ms} ms`);
      assert.ok(grew < 128 << 20, `${name}: RSS grew by ${grew} bytes`);
    }
  });

  it('the messages say what to do: recompress without --long=N, or with zstd', async () => {
    const window = openExport(blockBomb({ windowLog: 30, blocks: 100_000, type: RLE }), { snapshotId: 'x' });
    await assert.rejects(window, { code: 'INDEX_TOO_LARGE', message: /needs a 1024 MiB window, over the 128 MiB.*without --long=N/ });
    const blocks = openExport(blockBomb({ windowLog: 27, blocks: 100_000, type: RLE }), { snapshotId: 'x' });
    await assert.rejects(blocks, { code: 'CORRUPT', message: /blocks .* yield at most .*recompress the index with zstd/ });
    await assert.rejects(openExport(manyTinyFrames(100_000), { snapshotId: 'x' }), { code: 'CORRUPT', message: /frames yield only .*as one stream/ });
  });
});

describe('an upload carrying code: nothing runs, the export stays exact', () => {
  it('triggers on the tables the export writes to and reads never fire', async () => {
    const { bytes, ids } = fixtures.v1;
    // dedupOnly gets snapshot_blobs rows added by the export (the backfill).
    const index = hostileIndex(dir.path, bytes, `
      CREATE TABLE tripwire (snapshot_id TEXT, what TEXT);
      CREATE TRIGGER t1 BEFORE INSERT ON snapshot_blobs BEGIN SELECT RAISE(ABORT, 'trigger ran'); END;
      CREATE TRIGGER t2 AFTER INSERT ON snapshot_blobs BEGIN INSERT INTO tripwire VALUES (new.snapshot_id, 'insert'); END;
      CREATE TRIGGER t3 AFTER DELETE ON files BEGIN INSERT INTO tripwire SELECT id, 'delete' FROM snapshots; END;
      CREATE TRIGGER t4 AFTER UPDATE ON snapshots BEGIN INSERT INTO tripwire VALUES (new.id, 'update'); END;
      CREATE TRIGGER t5 INSTEAD OF INSERT ON agent_snapshot_sizes BEGIN INSERT INTO tripwire VALUES (new.snapshot_id, 'view'); END;`);
    for (const id of [ids.dedupOnly, ids.awkward]) {
      const exact = await exportExactly(dir.path, keys, index.path, 'v1', id);
      assert.deepEqual(exact.diffs, []);
      assert.ok(exact.result.rows.tripwire === 0, 'the snapshot-scoped tripwire table is exported, empty');
      assert.equal(sqliteValue(exact.restored, 'SELECT count(*) FROM tripwire'), '0');
      assert.equal(sqliteValue(exact.restored, "SELECT count(*) FROM sqlite_schema WHERE type IN ('trigger', 'view')"), '0');
    }
    assert.ok(Number(sqliteValue(index.path, `SELECT count(*) FROM snapshot_blobs WHERE snapshot_id = '${ids.dedupOnly}'`)) === 0);
  });

  it('views, including one that never ends, are neither run nor exported', async () => {
    const { bytes, ids } = fixtures.v2;
    const index = hostileIndex(dir.path, bytes, `
      CREATE VIEW forever AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT i AS snapshot_id FROM r;
      CREATE VIEW snapshot_everything AS SELECT * FROM files, chunks, blobs;`);
    const exact = await exportExactly(dir.path, keys, index.path, 'v2', ids.incremental);
    assert.deepEqual(exact.diffs, []);
    assert.ok(!exact.result.skippedTables.includes('forever'), 'a view is not a table');
  });

  it('virtual tables, with a module sql.js lacks (FTS5, R*Tree) or has (FTS4), are skipped and named; the rest is exact', async () => {
    const { bytes, ids } = fixtures.v1;
    const index = hostileIndex(dir.path, bytes, `
      CREATE VIRTUAL TABLE file_search USING fts5(path, snapshot_id);
      INSERT INTO file_search SELECT file_path, snapshot_id FROM snapshot_files;
      CREATE VIRTUAL TABLE old_search USING fts4(path, snapshot_id);
      INSERT INTO old_search SELECT file_path, snapshot_id FROM snapshot_files;
      CREATE VIRTUAL TABLE extents USING rtree(id, lo, hi, +snapshot_id);
      INSERT INTO extents SELECT rowid, 0, size, '${ids.awkward}' FROM files;`);
    const exact = await exportExactly(dir.path, keys, index.path, 'v1', ids.awkward, 'DROP TABLE file_search; DROP TABLE old_search; DROP TABLE extents;');
    assert.deepEqual(exact.diffs, []);
    for (const t of ['file_search', 'file_search_data', 'file_search_content', 'old_search', 'old_search_content', 'extents', 'extents_node']) {
      assert.ok(exact.result.skippedTables.includes(t), `${t} is listed as not exported`);
    }
    assert.equal(sqliteValue(exact.restored, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'file_search%' OR name LIKE 'old_search%' OR name LIKE 'extents%'"), '0');
  });
  // Generated columns, CHECKs, DEFAULTs, collations, odd CREATE text: test/robustness/hostile-schema.test.ts.
});

describe('names that must not become keys', () => {
  const evil = ['../../escaped', 'a/b', 'a\\b', '..', '.', 'a%2Fb', 'tab\there', 'bell\u0007', 'c1\u0085', 'x'.repeat(321), ''];

  it('a snapshot id that could leave or split its key is BAD_KEY before anything is written (API and CLI)', async () => {
    const { bytes, ids } = fixtures.v1;
    for (const id of evil) {
      const index = hostileIndex(dir.path, bytes, `UPDATE snapshots SET id = ${sqlLiteral(id)} WHERE id = '${ids.awkward}';
        UPDATE snapshot_files SET snapshot_id = ${sqlLiteral(id)} WHERE snapshot_id = '${ids.awkward}';`);
      const out = join(dir.path, `names-${sha256Hex(Buffer.from(id)).slice(0, 8)}`, 'out');
      await assert.rejects(exportTo(out, index.bytes, id, keys), { code: 'BAD_KEY' }, JSON.stringify(id));
      assert.equal(existsSync(join(out, '..')) ? readdirSync(join(out, '..'), { recursive: true }).length : 0, 0, `nothing written for ${JSON.stringify(id)}`);
    }
    const index = hostileIndex(dir.path, bytes, `UPDATE snapshots SET id = '../../escaped' WHERE id = '${ids.awkward}';`);
    const out = join(dir.path, 'cli', 'out');
    const bin = new URL('../../bin/snapmeta.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'export', index.path, '--snapshot', '../../escaped', '--recipient', keys.recipient, '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^snapmeta export: BAD_KEY: snapshot id "..\/..\/escaped" contains "..", so it cannot name an output key\n$/);
    assert.equal(existsSync(join(dir.path, 'cli', 'escaped')), false);
  });

  it('a snapshot id matched only through the upload\'s own collation is the database\'s id, not the requested one', async () => {
    const { bytes, ids } = fixtures.v1;
    const index = hostileIndex(dir.path, bytes, "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, 'id                TEXT PRIMARY KEY', 'id TEXT PRIMARY KEY COLLATE NOCASE') WHERE name = 'snapshots';");
    const job = await openExport(index.bytes, { snapshotId: ids.awkward.toUpperCase() });
    try {
      assert.equal(job.snapshot.id, ids.awkward);
    } finally {
      job.close();
    }
  });
});

describe('size and shape', () => {
  it('a 64 KiB path, a 1 MiB link target and 10 000 files sharing one chunk export exactly', async () => {
    const index = hostileIndex(dir.path, fixtures.v1.bytes, `
      INSERT INTO snapshots (id, hostname, vaultik_version, started_at, completed_at) VALUES ('shared', 'fixture.example.com', '0.9.3', 1, 2);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
        INSERT INTO files (path, mtime, ctime, size, mode, uid, gid) SELECT printf('/shared/%05d', i), 1, 1, 4096, 33188, 0, 0 FROM n;
      INSERT INTO file_chunks (path, idx, chunk_hash) SELECT path, 0, (SELECT chunk_hash FROM blob_chunks ORDER BY rowid LIMIT 1) FROM files WHERE path LIKE '/shared/%';
      INSERT INTO chunk_files (chunk_hash, file_path, file_offset, length) SELECT chunk_hash, path, 0, 4096 FROM file_chunks WHERE path LIKE '/shared/%';
      INSERT INTO files (path, mtime, ctime, size, mode, uid, gid, link_target) VALUES
        ('/shared/' || replace(hex(zeroblob(32768)), '00', 'd/'), 1, 1, 0, 33188, 0, 0, NULL),
        ('/shared/link', 1, 1, 0, 41471, 0, 0, hex(randomblob(524288)));
      INSERT INTO snapshot_files (snapshot_id, file_path) SELECT 'shared', path FROM files WHERE path LIKE '/shared/%';`);
    assert.equal(sqliteValue(index.path, "SELECT max(length(path)) FROM files"), String(8 + 65536));
    const exact = await exportExactly(dir.path, keys, index.path, 'v1', 'shared');
    assert.deepEqual(exact.diffs, []);
    assert.equal(exact.result.rows.files, 10_002);
    assert.equal(exact.result.rows.chunks, 1);
    assert.equal(exact.result.blobCount, 1);
  });

  it('a snapshot of ~180 000 rows exports, restores and matches the row counts (the load script runs 1.8 million)', async () => {
    const opts = { layout: 'v2' as const, snapshots: 2, filesPerSnapshot: 10_000 };
    const path = join(dir.path, 'rows.db');
    sqlite(path, sampleIndexSql(opts));
    const id = sampleSnapshotIds(opts)[1];
    const t0 = performance.now();
    const out = join(dir.path, 'rows-out');
    const result = await exportTo(out, readFileSync(path), id, keys);
    const ms = performance.now() - t0;
    const rows = Object.values(result.rows).reduce((a, b) => a + b, 0);
    assert.ok(rows > 150_000, `${rows} rows`);
    const restored = join(dir.path, 'rows-restored.db');
    debianRestore(join(out, 'metadata', id), keys, restored);
    const restoredRows = tableRowCounts(restored);
    for (const [table, n] of Object.entries(result.rows)) assert.equal(restoredRows[table], n, table);
    assert.ok(ms < 30_000, `${rows} rows took ${ms} ms`);
  });

  it('a file name that is not UTF-8 (Latin-1) exports exactly for the Debian tools', async () => {
    const { bytes, ids } = fixtures.v1;
    const latin1 = "CAST(X'2F7372762F636166E92E747874' AS TEXT)"; // "/srv/caf\xe9.txt"
    const index = hostileIndex(dir.path, bytes, `UPDATE files SET path = ${latin1} WHERE path = '/srv/empty';
      UPDATE snapshot_files SET file_path = ${latin1} WHERE file_path = '/srv/empty';`);
    const exact = await exportExactly(dir.path, keys, index.path, 'v1', ids.awkward);
    assert.deepEqual(exact.diffs, []);
    assert.equal(sqliteValue(exact.restored, "SELECT hex(path) FROM files WHERE path LIKE '/srv/caf%'"), '2F7372762F636166E92E747874');
  });

  it('… and `snapmeta restore` restores it too', async () => {
    const { bytes, ids } = fixtures.v1;
    const latin1 = "CAST(X'2F6361666527E9' AS TEXT)"; // "/cafe'\xe9"
    const index = hostileIndex(dir.path, bytes, `UPDATE files SET path = ${latin1} WHERE path = '/srv/empty';
      UPDATE snapshot_files SET file_path = ${latin1} WHERE file_path = '/srv/empty';`);
    const store = new DirStore(join(dir.path, 'latin1-ours'));
    const job = await openExport(index.bytes, { snapshotId: ids.awkward });
    const result = await publishExport(job, store, { recipients: [keys.recipient], source: { sha256: sha256Hex(index.bytes), size: index.bytes.byteLength } }).finally(() => job.close());
    await restoreExport({
      manifest: await decodeManifest((await store.get(result.manifestKey))!),
      db: new Response((await store.get(result.dbKey))! as Uint8Array<ArrayBuffer>).body!,
      identities: [keys.identity],
    });
  });
});

describe('through the local stack: a receipt with the code, the upload kept, no retry', () => {
  let h: Harness;
  const host = 'web1';
  const hostname = 'web1.example.com';
  let sample: Uint8Array;
  let ids: string[];

  before(async () => {
    h = await startHarness({ maxIndexBytes: 8 << 20 });
    const opts = { layout: 'v1' as const, hostname, snapshots: 3, filesPerSnapshot: 20 };
    sample = await sampleIndex(opts);
    ids = sampleSnapshotIds(opts);
  });
  after(() => h.close());

  it('garbage, truncation, bad pages, an empty object, a bomb, another host\'s snapshot, a wrong id, bad keys', async () => {
    const damaged = Buffer.from(sample).fill(0xa5, PAGE);
    const other = await sampleIndex({ layout: 'v1', hostname: 'db9.example.com', snapshots: 1, filesPerSnapshot: 5 });
    const otherId = sampleSnapshotIds({ layout: 'v1', hostname: 'db9.example.com', snapshots: 1 })[0];
    const t = (n: number) => `${hostname}_2026-12-0${n}T00:00:00Z`;
    const cases: { key: string; body: Uint8Array; code: ErrorCode; receipt?: string }[] = [
      { key: `incoming/${host}/${t(1)}.db`, body: randomBytes(prng(5), 50_000), code: 'NOT_SQLITE' },
      { key: `incoming/${host}/${t(2)}.db`, body: sample.subarray(0, 3 * PAGE + 17), code: 'CORRUPT' },
      { key: `incoming/${host}/${ids[0]}.db`, body: damaged, code: 'CORRUPT' },
      { key: `incoming/${host}/${t(3)}.db`, body: new Uint8Array(0), code: 'NOT_SQLITE' },
      { key: `incoming/${host}/${t(4)}.db.zst`, body: rleBomb(262_144), code: 'INDEX_TOO_LARGE' },
      { key: `incoming/${host}/${otherId}.db`, body: other, code: 'HOST_MISMATCH' },
      { key: `incoming/${host}/${t(5)}.db`, body: sample, code: 'SNAPSHOT_NOT_FOUND' },
      { key: `incoming/${host}/a/b.db`, body: sample, code: 'BAD_KEY' },
      { key: `incoming/${host}/..%2F..%2Fx.db`, body: sample, code: 'BAD_KEY' },
      { key: `incoming/${host}/x\u0001y.db`, body: sample, code: 'BAD_KEY' },
      { key: `incoming/${'h'.repeat(254)}/x.db`, body: sample, code: 'BAD_KEY' },
      { key: `incoming/${host}/${'s'.repeat(321)}.db`, body: sample, code: 'BAD_KEY' },
      { key: `incoming/${host}/.db`, body: sample, code: 'BAD_KEY' },
    ];
    for (const c of cases) {
      c.receipt = c.code === 'BAD_KEY' ? receiptKey('rejected', { key: c.key }) : `rejected/${c.key.split('/')[1]}/${c.key.split('/')[2].replace(/\.db(\.zst)?$/, '')}.json`;
    }
    await Promise.all(cases.map((c) => h.upload(c.key, c.body)));
    await waitFor(async () => (await Promise.all(cases.map((c) => h.receipt(c.receipt!)))).every(Boolean), 30_000, 'every receipt');
    await h.settled();
    for (const c of cases) {
      const receipt = (await h.receipt(c.receipt!))!;
      assert.equal(receipt.status, 'rejected', c.key);
      assert.equal(receipt.error!.code, c.code, `${JSON.stringify(c.key.slice(0, 60))}: ${receipt.error!.message}`);
      assert.equal(receipt.source.key, c.key);
      assert.equal(await h.exists(h.stack.names.stagingBucket, c.key), true, 'a rejected upload is kept for inspection');
    }
    assert.deepEqual(await h.list(h.stack.names.backupBucket), [], 'nothing published');
    assert.deepEqual(h.invocations.filter((i) => i.failed), [], 'no invocation failed: nothing is retried');
    assert.equal((await h.stack.status()).dlqDepth, 0);
  });

  it('a host cannot publish, under its own hostname, a snapshot id that names another host', async () => {
    // web1 squats db1's next snapshot id: db1's own upload would then be ALREADY_PUBLISHED for ever.
    const opts = { layout: 'v1' as const, hostname: 'db1.example.com', snapshots: 1, filesPerSnapshot: 5 };
    const squatted = sampleSnapshotIds(opts)[0];
    const index = hostileIndex(dir.path, await sampleIndex(opts), "UPDATE snapshots SET hostname = 'web1.example.com';");
    await h.upload(`incoming/${host}/${squatted}.db`, index.bytes);
    let receipt: Awaited<ReturnType<Harness['receipt']>>;
    await waitFor(async () => Boolean(receipt = (await h.receipt(`rejected/${host}/${squatted}.json`)) ?? (await h.receipt(`processed/${host}/${squatted}.json`))), 15_000, 'a receipt');
    assert.equal(receipt!.error?.code ?? receipt!.status, 'HOST_MISMATCH');
  });

  it('a literal %2F in a snapshot id never reaches a key, receipts included', async () => {
    const id = `${hostname}%2Fx`;
    const index = hostileIndex(dir.path, sample, `UPDATE snapshots SET id = '${id}' WHERE id = '${ids[2]}'; UPDATE snapshot_files SET snapshot_id = '${id}' WHERE snapshot_id = '${ids[2]}';`);
    const key = `incoming/${host}/${id}.db`;
    await h.upload(key, index.bytes);
    await waitFor(async () => Boolean(await h.receipt(receiptKey('rejected', { key })) ?? await h.receipt(`rejected/${host}/${id}.json`)), 15_000, 'a receipt');
    assert.ok(await h.receipt(receiptKey('rejected', { key })), 'the receipt is named by the key\'s hash');
  });
});

function sqlLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`.replace(/[\u0000-\u001f\u0085]/g, (c) => `' || char(${c.charCodeAt(0)}) || '`);
}
