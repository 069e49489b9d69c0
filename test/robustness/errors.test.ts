// Every error code of the core, from the API and from the CLI's exit status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DirStore } from '../../lib/stores/dir-store.ts';
import { SnapmetaError, type ErrorCode } from '../../lib/core/errors.ts';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { publishExport } from '../../lib/pipeline/publish.ts';
import { sha256Hex } from '../../lib/codecs/hash.ts';
import { parseRecipients } from '../../lib/core/recipients.ts';
import { sampleIndex, sampleSnapshotIds } from '../../lib/sample/sample-index.ts';
import { loadSqlJs } from '../../lib/core/sqlite.ts';
import { compressFrame } from '../../lib/codecs/zstd.ts';
import { exportTo, makeKeys, tempDir, writeTemp } from '../support/export-helpers.ts';

const opts = { layout: 'v2' as const, hostname: 'web1.example.com', filesPerSnapshot: 40 };
const sample = await sampleIndex(opts);
const [first, second] = sampleSnapshotIds(opts);

async function rejects(promise: Promise<unknown>, code: ErrorCode, message?: RegExp) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SnapmetaError, `expected SnapmetaError ${code}, got ${err}`);
    assert.equal(err.code, code, err.message);
    assert.doesNotMatch(err.message, /\n/);
    if (message) assert.match(err.message, message);
    return true;
  });
}

async function mutate(sql: string): Promise<Uint8Array> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database(sample);
  db.exec(sql);
  const bytes = db.export();
  db.close();
  return bytes;
}

const open = (bytes: Uint8Array, snapshotId = first, maxIndexBytes?: number) => openExport(bytes, { snapshotId, maxIndexBytes });

test('NOT_SQLITE: random bytes, an empty file, a text file', async () => {
  await rejects(open(new Uint8Array(0)), 'NOT_SQLITE', /empty/);
  await rejects(open(Buffer.from('hello, this is not a database at all, '.repeat(10))), 'NOT_SQLITE');
  const random = new Uint8Array(8192).map((_, i) => (i * 7919 + 13) % 251);
  await rejects(open(random), 'NOT_SQLITE');
});

test('CORRUPT: truncated file, truncated header, damaged pages, damaged zstd', async () => {
  await rejects(open(sample.subarray(0, sample.byteLength - 4096)), 'CORRUPT', /truncated/);
  await rejects(open(sample.subarray(0, 5000)), 'CORRUPT', /truncated/);
  await rejects(open(sample.subarray(0, 60)), 'CORRUPT', /truncated/);
  const damaged = Buffer.from(sample);
  for (let off = 4096; off < damaged.byteLength; off += 4096) damaged.fill(0xa5, off + 8, off + 200);
  await rejects(open(damaged), 'CORRUPT', /corrupt|malformed/);
  const zst = Buffer.from(await compressFrame(sample, 3));
  await rejects(open(zst.subarray(0, zst.byteLength - 10)), 'CORRUPT', /zstd/);
});

test('UNKNOWN_LAYOUT names the missing tables and columns', async () => {
  await rejects(open(await mutate('DROP TABLE uploads')), 'UNKNOWN_LAYOUT', /v2-id-keyed, missing table uploads/);
  await rejects(open(await mutate('ALTER TABLE blobs DROP COLUMN uploaded_ts')), 'UNKNOWN_LAYOUT', /column blobs\.uploaded_ts/);
  const SQL = await loadSqlJs();
  const empty = new SQL.Database();
  empty.run('CREATE TABLE notes(x)');
  await rejects(open(empty.export()), 'UNKNOWN_LAYOUT', /missing table files/);
  empty.close();
});

test('SNAPSHOT_NOT_FOUND and SNAPSHOT_INCOMPLETE', async () => {
  await rejects(open(sample, 'web1.example.com_1999-01-01T00:00:00Z'), 'SNAPSHOT_NOT_FOUND', /not in the index.*3 snapshots/);
  const running = await mutate(`UPDATE snapshots SET completed_at = NULL WHERE id = '${second}'`);
  await rejects(open(running, second), 'SNAPSHOT_INCOMPLETE', /still running/);
});

test('INDEX_TOO_LARGE: raw size, and a zstd bomb stopped while decompressing (with and without a declared size)', async () => {
  await rejects(open(sample, first, 1000), 'INDEX_TOO_LARGE');
  const zeros = Buffer.alloc(64 << 20);
  const undeclared = await compressFrame(zeros, 3); // our codec writes no content size
  await rejects(open(undeclared, first, 8 << 20), 'INDEX_TOO_LARGE', /decompresses to more than/);
  const dir = tempDir();
  try {
    // zstd given a file (not a pipe) declares the frame's content size.
    const declared = execFileSync('zstd', ['-q', '-c', '-3', writeTemp(dir.path, 'zeros', zeros)], { maxBuffer: 1 << 30 });
    assert.ok(declared[4] & 0xc0, 'frame header declares its content size');
    await rejects(open(declared, first, 8 << 20), 'INDEX_TOO_LARGE', /decompresses to more than/);
  } finally {
    dir.remove();
  }
});

test('NO_RECIPIENTS and BAD_ARGUMENT for recipients', () => {
  assert.throws(() => parseRecipients([]), { code: 'NO_RECIPIENTS' });
  assert.throws(() => parseRecipients(['  # only a comment\n']), { code: 'NO_RECIPIENTS' });
  assert.throws(() => parseRecipients(['age1notarealkey']), { code: 'BAD_ARGUMENT' });
  // A valid-looking key with a broken bech32 checksum.
  assert.throws(() => parseRecipients(['age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq']), { code: 'BAD_ARGUMENT' });
});

test('published metadata is immutable: same source is a duplicate, another source is ALREADY_PUBLISHED', async () => {
  const dir = tempDir();
  try {
    const keys = await makeKeys(dir.path);
    const out = join(dir.path, 'out');
    assert.equal((await exportTo(out, sample, first, keys)).status, 'published');
    assert.equal((await exportTo(out, sample, first, keys)).status, 'duplicate');
    const other = await mutate("UPDATE files SET mode = mode + 1 WHERE rowid = 1");
    await rejects(exportTo(out, other, first, keys), 'ALREADY_PUBLISHED', /another upload/);
    // A database object without its manifest (a crash between the two writes) from another source.
    const store = new DirStore(join(dir.path, 'orphan'));
    await store.putIfAbsent(`metadata/${first}/db.zst.age`, new Uint8Array([1, 2, 3]), { contentType: 'x' });
    const job = await open(sample);
    try {
      await rejects(publishExport(job, store, { recipients: [keys.recipient], source: { sha256: sha256Hex(sample), size: sample.byteLength } }), 'ALREADY_PUBLISHED', /write-once/);
    } finally {
      job.close();
    }
  } finally {
    dir.remove();
  }
});

test('the CLI exits non-zero with the code and a one-line message', async () => {
  const dir = tempDir();
  try {
    const keys = await makeKeys(dir.path);
    const bin = new URL('../../bin/snapmeta.js', import.meta.url).pathname;
    const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir.path });
    const junk = writeTemp(dir.path, 'junk.db', Buffer.from('not sqlite'.repeat(20)));
    let r = cli('export', junk, '--snapshot', first, '--recipient', keys.recipient);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^snapmeta export: NOT_SQLITE: .+\n$/);
    const good = writeTemp(dir.path, 'index.db', sample);
    r = cli('export', good, '--snapshot', first);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /NO_RECIPIENTS/);
    r = cli('export', good, '--snapshot', 'nope', '--recipient', keys.recipient);
    assert.match(r.stderr, /SNAPSHOT_NOT_FOUND/);
    r = cli('export', good, '--snapshot', first, '--recipient', keys.recipient, '--format', 'csv');
    assert.match(r.stderr, /BAD_ARGUMENT: --format/);
    r = cli('export', good, '--snapshot', first, '--recipient', keys.recipient, '--bogus');
    assert.equal(r.status, 2);
  } finally {
    dir.remove();
  }
});
