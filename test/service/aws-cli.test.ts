// Today's agent and today's reader against the local stack, with the real aws
// CLI over HTTP: a named snapshot id uploaded with `aws s3 cp`, exported as a
// SQLite image under its hashed key, fetched with `aws s3 cp` and restored with
// Debian's age and zstd to exactly what the sqlite3 pruning keeps.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { hashedSnapshotKey } from '../../lib/core/keys.ts';
import { sampleIndex } from '../../lib/sample/sample-index.ts';
import { startHarness } from '../support/aws/harness.ts';
import { compareDatabases } from '../support/compare.ts';
import { debianManifest, debianRestore, withSnapshotIds, writeTemp } from '../support/export-helpers.ts';
import { nativePrune } from '../support/native-prune.ts';

const ID = 'web-01_home_2026-11-13T03:00:03Z';
const run = promisify(execFile);

test('a named id uploaded with the aws CLI is exported as a SQLite image under its hashed key and restores exactly', async () => {
  const h = await startHarness({ format: 'sqlite', keyScheme: 'hashed' });
  try {
    const bytes = await withSnapshotIds(
      await sampleIndex({ layout: 'v2', hostname: 'web-01.example.org', snapshots: 3, filesPerSnapshot: 30 }),
      (id, index) => (index === 2 ? ID : `web-01_home_2026-11-1${index}T03:00:03Z`),
    );
    const index = writeTemp(h.dir, 'index.db', bytes);
    // Asynchronous: the S3 server runs in this process and must keep answering.
    const aws = (...args: string[]) => run('aws', ['--endpoint-url', h.stack.endpoint, ...args], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'agent', AWS_SECRET_ACCESS_KEY: 'agent', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    });
    await aws('s3', 'cp', index, `s3://${h.stack.names.stagingBucket}/incoming/web-01/${ID}.db`);

    const receipt = await h.waitForReceipt(`processed/web-01/${ID}.json`, 30_000);
    const key = hashedSnapshotKey(ID);
    assert.equal(receipt.snapshot_id, ID, 'the receipt keeps the human id');
    assert.deepEqual([receipt.outputs?.key_scheme, receipt.outputs?.metadata_key, receipt.outputs?.db.format], ['hashed', key, 'sqlite']);

    const folder = join(h.dir, 'fetched');
    await aws('s3', 'cp', '--recursive', `s3://${h.stack.names.backupBucket}/metadata/${key}/`, folder);
    assert.deepEqual(readdirSync(folder).sort(), ['db.zst.age', 'manifest.json.zst']);
    const manifest = debianManifest(folder);
    assert.equal(manifest.snapshot_id, key);
    assert.equal((manifest.db as { format: string }).format, 'sqlite');

    const restored = join(h.dir, 'restored.db');
    debianRestore(folder, h.keys, restored, 'sqlite');
    const expected = join(h.dir, 'expected.db');
    nativePrune(index, expected, 'v2', ID);
    assert.deepEqual(compareDatabases(expected, restored), []);
    assert.equal(execFileSync('sqlite3', [restored, 'PRAGMA freelist_count; PRAGMA integrity_check'], { encoding: 'utf8' }), '0\nok\n', 'a vacuumed image');
  } finally {
    await h.close();
  }
});
