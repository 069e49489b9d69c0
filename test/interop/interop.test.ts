// Every snapshot of both fixture layouts, exported by us and opened with the
// Debian age, zstd and sqlite3 tools, equals the same pruning done by the
// sqlite3 tool itself — table by table, value by value, with typeof().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareDatabases, tableRowCounts } from '../support/compare.ts';
import { debianManifest, debianRestore, exportTo, makeKeys, tempDir, writeTemp } from '../support/export-helpers.ts';
import { buildFixture } from '../support/fixtures.ts';
import { nativePrune } from '../support/native-prune.ts';
import { sqlite, sqliteJson } from '../support/sqlite-cli.ts';
import { hashedSnapshotKey } from '../../lib/core/keys.ts';

for (const layout of ['v1', 'v2'] as const) {
  test(`${layout}: every complete snapshot matches the sqlite3 pruning, in both formats`, async () => {
    const dir = tempDir();
    try {
      const keys = await makeKeys(dir.path);
      const { bytes, ids } = await buildFixture(layout);
      const source = writeTemp(dir.path, 'index.db', bytes);
      const snapshots = sqlite(source, 'SELECT id FROM snapshots WHERE completed_at IS NOT NULL ORDER BY id').trim().split('\n');
      assert.ok(snapshots.includes(ids.dedupOnly) && snapshots.length >= 3, 'the fixture has several complete snapshots');
      for (const [n, id] of snapshots.entries()) {
        const expected = join(dir.path, `native-${n}.db`);
        nativePrune(source, expected, layout, id);
        for (const format of ['sql', 'sqlite'] as const) {
          const out = join(dir.path, `${format}-${n}`);
          const result = await exportTo(out, bytes, id, keys, format);
          const restored = join(out, 'restored.db');
          debianRestore(join(out, 'metadata', id), keys, restored, format);
          assert.deepEqual(compareDatabases(expected, restored), [], `${layout} ${id} ${format}`);
          assert.equal(sqlite(restored, 'PRAGMA integrity_check').trim(), 'ok');
          assert.equal(sqlite(restored, "SELECT count(*) FROM sqlite_schema WHERE type IN ('trigger', 'view')").trim(), '0', 'no trigger or view is exported');

          const manifest = debianManifest(join(out, 'metadata', id));
          const blobs = sqlite(expected, 'SELECT DISTINCT blob_hash FROM blobs WHERE blob_hash IS NOT NULL ORDER BY 1').split('\n').filter(Boolean);
          assert.equal(manifest.snapshot_id, id);
          assert.match(String(manifest.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
          assert.deepEqual(manifest.blobs, blobs);
          assert.equal(manifest.blob_count, blobs.length);
          assert.equal(manifest.layout, layout === 'v1' ? 'v1-path-keyed' : 'v2-id-keyed');
          assert.deepEqual(manifest.rows, tableRowCounts(expected));
          assert.deepEqual(manifest.db, { ...result.db, compression: 'zstd', encryption: 'age' });
          assert.ok((manifest.skipped_tables as string[]).includes('agent_state'));
          if (layout === 'v2') {
            const sizes = sqliteJson<{ h: string; s: number }>(expected, 'SELECT blob_hash AS h, compressed_size AS s FROM blobs WHERE blob_hash IS NOT NULL');
            assert.deepEqual(manifest.blob_sizes, Object.fromEntries(sizes.map(({ h, s }) => [h, s])));
            assert.equal(manifest.total_compressed_size, sizes.reduce((sum, { s }) => sum + s, 0));
          } else {
            assert.equal(manifest.blob_sizes, undefined, 'v1 has no blob sizes');
            assert.equal(manifest.total_compressed_size, undefined);
          }
        }
      }
    } finally {
      dir.remove();
    }
  });

  test(`${layout}: a deduplicated-only snapshot still lists the blobs it needs, with one snapshot_blobs row each`, async () => {
    const dir = tempDir();
    try {
      const keys = await makeKeys(dir.path);
      const { bytes, ids } = await buildFixture(layout);
      const source = writeTemp(dir.path, 'index.db', bytes);
      assert.equal(sqlite(source, `SELECT count(*) FROM snapshot_blobs WHERE snapshot_id = '${ids.dedupOnly}'`).trim(), '0');
      const out = join(dir.path, 'out');
      const result = await exportTo(out, bytes, ids.dedupOnly, keys);
      assert.ok(result.blobCount > 0, 'blobs come from chunk reachability, not snapshot_blobs');
      const restored = join(out, 'restored.db');
      debianRestore(join(out, 'metadata', ids.dedupOnly), keys, restored);
      const blobKey = layout === 'v1' ? 'blob_hash' : 'id';
      const blobRef = layout === 'v1' ? 'blob_hash' : 'blob_id';
      assert.equal(sqlite(restored, `SELECT count(*) FROM blobs WHERE blob_hash IS NOT NULL AND ${blobKey} NOT IN (SELECT ${blobRef} FROM snapshot_blobs)`).trim(), '0');
      assert.equal(sqlite(restored, 'SELECT count(*) - count(DISTINCT ' + blobRef + ') FROM snapshot_blobs').trim(), '0');
      // Every chunk of every kept file is in a kept blob: the snapshot restores.
      assert.equal(sqlite(restored, `SELECT count(*) FROM file_chunks fc WHERE NOT EXISTS (SELECT 1 FROM blob_chunks bc WHERE bc.chunk_hash = fc.chunk_hash)`).trim(), '0');
    } finally {
      dir.remove();
    }
  });
}

test('every format and key scheme: snapmeta restore and the Debian tools restore exactly what the sqlite3 pruning keeps', async () => {
  const dir = tempDir();
  try {
    const keys = await makeKeys(dir.path);
    const { bytes, ids } = await buildFixture('v2');
    const bin = new URL('../../bin/snapmeta.js', import.meta.url).pathname;
    // zstd-compressed under a name that says nothing: detected by its magic number.
    const index = writeTemp(dir.path, 'index.bin', execFileSync('zstd', ['-q', '-c'], { input: bytes, maxBuffer: 1 << 28 }));
    const expected = join(dir.path, 'native.db');
    nativePrune(writeTemp(dir.path, 'index.db', bytes), expected, 'v2', ids.incremental);
    for (const format of ['sql', 'sqlite'] as const) {
      for (const scheme of ['plain', 'hashed'] as const) {
        const out = join(dir.path, `${format}-${scheme}`);
        let r = spawnSync(process.execPath, [bin, 'export', index, '--snapshot', ids.incremental, '--recipient', keys.recipient, '--out', out, '--format', format, '--key-scheme', scheme], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /rows kept/);
        const folder = join(out, 'metadata', scheme === 'hashed' ? hashedSnapshotKey(ids.incremental) : ids.incremental);
        const to = join(dir.path, `${format}-${scheme}.db`);
        r = spawnSync(process.execPath, [bin, 'restore', folder, '--identity', keys.identityFile, '--to', to], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /integrity ok/);
        assert.deepEqual(compareDatabases(expected, to), [], `${format} ${scheme}: snapmeta restore`);
        const debian = join(dir.path, `${format}-${scheme}-debian.db`);
        debianRestore(folder, keys, debian, format);
        assert.deepEqual(compareDatabases(expected, debian), [], `${format} ${scheme}: age | zstd | sqlite3`);
        const manifest = debianManifest(folder);
        assert.deepEqual([manifest.key_scheme, (manifest.db as { format: string }).format], [scheme, format]);
        r = spawnSync(process.execPath, [bin, 'restore', folder, '--identity', keys.identityFile, '--to', to], { encoding: 'utf8' });
        assert.notEqual(r.status, 0, 'restore never overwrites');
      }
    }
  } finally {
    dir.remove();
  }
});

test('hashed: neither the bucket listing nor the unencrypted manifest shows the host, the name or the time', async () => {
  const dir = tempDir();
  try {
    const keys = await makeKeys(dir.path);
    const { bytes, ids } = await buildFixture('v2');
    const result = await exportTo(join(dir.path, 'out'), bytes, ids.incremental, keys, 'sql', 'hashed');
    const key = hashedSnapshotKey(ids.incremental);
    assert.equal(result.dbKey, `metadata/${key}/db.zst.age`);
    const text = execFileSync('zstd', ['-dc', join(dir.path, 'out', result.manifestKey)], { encoding: 'utf8' });
    const manifest = JSON.parse(text);
    assert.equal(manifest.snapshot_id, key);
    assert.equal(manifest.snapshot, undefined);
    const [host, time] = [ids.incremental.split('_')[0], ids.incremental.split('_').at(-1)!];
    for (const secret of [host, host.split('.')[0], time, time.slice(0, 10), ids.incremental]) assert.ok(!text.includes(secret), `the manifest shows ${secret}`);
    assert.deepEqual(readdirSync(join(dir.path, 'out', 'metadata')), [key]);
  } finally {
    dir.remove();
  }
});
