// The export Lambda against a real S3/SQS server (fauxqs on 127.0.0.1): S3
// events through the bridge, the handler invoked by the SQS event-source
// emulator as Lambda would, receipts, retries and the DLQ.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { QUEUE } from '../../lib/service/settings.ts';
import { ageDecryptStream } from '../../lib/codecs/age.ts';
import { createExportHandler } from '../../functions/export-handler.ts';
import { loadExportConfig } from '../../lib/service/config.ts';
import { decodeManifest } from '../../lib/core/manifest.ts';
import { readReceipt, type Receipt } from '../../lib/service/receipts.ts';
import { createS3Client, localConnection } from '../../lib/service/aws-clients.ts';
import { S3MetadataStore } from '../../lib/stores/s3-store.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { receiptKey } from '../../lib/core/keys.ts';
import { startLocalAwsServer } from '../../local/fauxqs-server.ts';
import { lambdaContext, objectCreatedEvent, sqsRecord } from '../support/aws/sqs-record.ts';
import { StreamLogger } from '../../local/stream-logger.ts';
import { debianRestore, makeKeys, tempDir } from '../support/export-helpers.ts';
import { startHarness, waitFor, type Harness } from '../support/aws/harness.ts';
import { captureEmf } from '../support/aws/emf.ts';
import { S3Faults, isCommand, s3Error } from '../support/aws/faults.ts';

const BACKUP = 'snapmeta-backups';
const STAGING = 'snapmeta-staging';

async function fixture(hostname: string, extra: Partial<SampleIndexOptions> = {}) {
  const opts: SampleIndexOptions = { layout: 'v1', hostname, snapshots: 2, filesPerSnapshot: 20, ...extra };
  return { bytes: await sampleIndex(opts), ids: sampleSnapshotIds(opts) };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The export opened the way an operator would: age -d | zstd -d | sqlite3. */
async function restoreWithDebianTools(h: Harness, receipt: Receipt): Promise<string> {
  const exportDir = join(h.dir, 'export', receipt.snapshot_id!);
  mkdirSync(exportDir, { recursive: true });
  writeFileSync(join(exportDir, 'db.zst.age'), await h.get(BACKUP, receipt.outputs!.db.key));
  const restored = join(h.dir, `${sha256(Buffer.from(receipt.snapshot_id!)).slice(0, 8)}.db`);
  debianRestore(exportDir, h.keys, restored);
  return execFileSync('sqlite3', [restored, 'SELECT id, hostname FROM snapshots'], { encoding: 'utf8' }).trim();
}

describe('export Lambda on the local stack', () => {
  it('publishes an upload whose key has spaces, + and colons; redeliveries after the staged object is gone do nothing', async () => {
    const h = await startHarness({ duplicateDeliveries: 1 });
    try {
      const host = 'web 1+x';
      const { bytes, ids } = await fixture(host);
      const id = ids[1];
      assert.match(id, /^web 1\+x_\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const key = `incoming/${host}/${id}.db`;
      await h.upload(key, bytes);

      const receipt = await h.waitForReceipt(`processed/${host}/${id}.json`, 15_000);
      await h.settled();
      assert.equal(receipt.status, 'published');
      assert.equal(receipt.host, host);
      assert.equal(receipt.snapshot_id, id);
      assert.equal(receipt.source.key, key);
      assert.equal(receipt.source.size, bytes.byteLength);
      assert.equal(receipt.source.sha256, sha256(bytes));
      assert.match(receipt.source.etag!, /^[0-9a-f]{32}$/);
      assert.equal(receipt.outputs!.db.key, `metadata/${id}/db.zst.age`);
      assert.equal(receipt.outputs!.manifest.key, `metadata/${id}/manifest.json.zst`);
      for (const stage of ['download', 'load', 'prune', 'dump', 'compress', 'write']) assert.ok(stage in receipt.timings_ms, stage);

      assert.deepEqual(await h.list(BACKUP), [`metadata/${id}/db.zst.age`, `metadata/${id}/manifest.json.zst`]);
      const db = await h.get(BACKUP, receipt.outputs!.db.key);
      assert.equal(sha256(db), receipt.outputs!.db.sha256);
      const manifest = await decodeManifest(await h.get(BACKUP, receipt.outputs!.manifest.key));
      assert.equal(manifest.snapshot_id, id);
      assert.equal(manifest.db.sha256, sha256(db));
      assert.equal(manifest.source.sha256, sha256(bytes));
      assert.equal(await restoreWithDebianTools(h, receipt), `${id}|${host}`);

      // Deleted only after outputs and receipt; the second delivery found nothing to do.
      assert.equal(await h.exists(STAGING, key), false);
      assert.deepEqual(
        h.invocations.map((i) => i.failed),
        [0, 0, 0],
        'test event, delivery, duplicate delivery: all succeed',
      );
      assert.equal((await h.receipt(`processed/${host}/${id}.json`))!.processed_at, receipt.processed_at, 'receipt not rewritten');
      assert.equal(h.emf.count('ExportSucceeded'), 1);
      assert.equal(h.emf.count('InputBytes'), bytes.byteLength);
      assert.equal(h.emf.count('OutputBytes'), receipt.bytes_out);
      assert.ok(h.emf.count('RowsKept') > 0);
      assert.ok(h.emf.metrics.some((m) => m.name === 'StageDurationMs' && m.dimensions.stage === 'prune' && m.dimensions.namespace === 'Snapmeta'));
      assert.ok(h.emf.metrics.some((m) => m.name === 'ExportDurationMs'));

      // Every log line about the record names it.
      const lines = h.logs.filter((l) => l.message === 'export published');
      assert.equal(lines.length, 1);
      assert.equal(lines[0].key, key);
      assert.equal(lines[0].host, host);
      assert.equal(lines[0].snapshotId, id);
      assert.deepEqual(h.errors, []);
    } finally {
      await h.close();
    }
  });

  it('publishes once for repeated deliveries of an upload; another upload for the snapshot is ALREADY_PUBLISHED', async () => {
    const h = await startHarness({ duplicateDeliveries: 2, deleteStaged: false });
    try {
      const { bytes, ids } = await fixture('db1.example.com');
      const id = ids[0];
      const key = `incoming/db1/${id}.db.zst`;
      const compressed = execFileSync('zstd', ['-q', '-c'], { input: bytes });
      await h.upload(key, compressed);
      await waitFor(() => h.invocations.length === 4, 15_000, 'three deliveries');
      await h.settled();
      const receipt = (await h.receipt(`processed/db1/${id}.json`))!;
      // The later deliveries found the same source already published.
      assert.equal(receipt.status, 'duplicate');
      assert.equal(receipt.source.sha256, sha256(compressed));
      const writes = h.faults.sent.filter((c) => /^(PutObject|CreateMultipartUpload)Command$/.test(c.command) && c.key?.startsWith('metadata/'));
      assert.deepEqual(writes.map((c) => c.key), [`metadata/${id}/db.zst.age`, `metadata/${id}/manifest.json.zst`]);
      assert.equal(h.emf.count('ExportSucceeded'), 1);
      assert.equal(h.emf.count('DuplicateSkipped'), 2);
      const manifestBefore = await h.get(BACKUP, `metadata/${id}/manifest.json.zst`);

      // Same snapshot, different bytes (another seed): published metadata is immutable.
      const other = await fixture('db1.example.com', { seed: 2 });
      assert.equal(other.ids[0], id);
      await h.upload(`incoming/db1/${id}.db`, other.bytes);
      const rejected = await h.waitForReceipt(`rejected/db1/${id}.json`, 15_000);
      assert.equal(rejected.status, 'rejected');
      assert.equal(rejected.error!.code, 'ALREADY_PUBLISHED');
      await h.settled();
      assert.deepEqual(await h.get(BACKUP, `metadata/${id}/manifest.json.zst`), manifestBefore);
      assert.equal(await h.exists(STAGING, `incoming/db1/${id}.db`), true, 'a rejected upload is kept for inspection');
    } finally {
      await h.close();
    }
  });

  it('rejects corrupt uploads with a receipt, keeps them, and never retries them', async () => {
    const h = await startHarness();
    try {
      const { bytes, ids } = await fixture('web1.example.com');
      const garbage = `incoming/web1/${ids[0]}.db`;
      const truncated = `incoming/web1/${ids[1]}.db`;
      await h.upload(garbage, new TextEncoder().encode('this is not a database\n'.repeat(100)));
      await h.upload(truncated, bytes.subarray(0, 8192));
      const r1 = await h.waitForReceipt(`rejected/web1/${ids[0]}.json`, 15_000);
      const r2 = await h.waitForReceipt(`rejected/web1/${ids[1]}.json`, 15_000);
      await h.settled();
      assert.equal(r1.error!.code, 'NOT_SQLITE');
      assert.equal(r2.error!.code, 'CORRUPT');
      assert.match(r2.error!.message, /truncated/);
      assert.equal(r2.source.size, 8192);
      assert.equal(await h.exists(STAGING, garbage), true);
      assert.equal(await h.exists(STAGING, truncated), true);
      assert.deepEqual(await h.list(BACKUP), []);
      assert.ok(h.invocations.every((i) => i.failed === 0), 'rejections are not retried');
      assert.equal((await h.stack.status()).dlqDepth, 0);
      assert.equal(h.emf.count('ExportRejected', { code: 'NOT_SQLITE' }), 1);
      assert.equal(h.emf.count('ExportRejected', { code: 'CORRUPT' }), 1);
      assert.equal(h.emf.count('ExportFailed'), 0);
    } finally {
      await h.close();
    }
  });

  it("rejects a host publishing another host's snapshot, and accepts the snapshot's short host name", async () => {
    const h = await startHarness();
    try {
      const { bytes, ids } = await fixture('db1.example.com');
      await h.upload(`incoming/web2/${ids[1]}.db`, bytes);
      const rejected = await h.waitForReceipt(`rejected/web2/${ids[1]}.json`, 15_000);
      assert.equal(rejected.error!.code, 'HOST_MISMATCH');
      assert.match(rejected.error!.message, /db1\.example\.com.*web2/);

      await h.upload(`incoming/db1/${ids[1]}.db`, bytes);
      assert.equal((await h.waitForReceipt(`processed/db1/${ids[1]}.json`, 15_000)).status, 'published');
      // Nor may a key name a snapshot the database does not hold.
      await h.upload(`incoming/db1/db1.example.com_1999-01-01T00:00:00Z.db`, bytes);
      assert.equal((await h.waitForReceipt('rejected/db1/db1.example.com_1999-01-01T00:00:00Z.json', 15_000)).error!.code, 'SNAPSHOT_NOT_FOUND');
      await h.settled();
      assert.deepEqual(await h.list(BACKUP), [`metadata/${ids[1]}/db.zst.age`, `metadata/${ids[1]}/manifest.json.zst`]);
    } finally {
      await h.close();
    }
  });

  it('rejects an oversized upload from its ContentLength, without downloading it', async () => {
    const h = await startHarness({ maxIndexBytes: 16 * 1024 });
    try {
      const { bytes, ids } = await fixture('web1.example.com');
      assert.ok(bytes.byteLength > 16 * 1024);
      const key = `incoming/web1/${ids[0]}.db`;
      await h.upload(key, bytes);
      const receipt = await h.waitForReceipt(`rejected/web1/${ids[0]}.json`, 15_000);
      assert.equal(receipt.error!.code, 'INDEX_TOO_LARGE');
      assert.equal(receipt.source.size, bytes.byteLength);
      assert.ok(h.faults.sent.some((c) => c.command === 'HeadObjectCommand' && c.key === key));
      assert.ok(!h.faults.sent.some((c) => c.command === 'GetObjectCommand' && c.key === key), 'never downloaded');
    } finally {
      await h.close();
    }
  });

  it('rejects a malformed key under a receipt named by its hash; other keys never reach the queue', async () => {
    const h = await startHarness();
    try {
      const { bytes } = await fixture('web1.example.com');
      const bad = 'incoming/web1/a..b.db';
      await h.upload(bad, bytes);
      await h.upload('incoming/web1/notes.txt', bytes);
      await h.upload('elsewhere/web1/x.db', bytes);
      const receipt = await h.waitForReceipt(receiptKey('rejected', { key: bad }), 15_000);
      assert.equal(receipt.error!.code, 'BAD_KEY');
      assert.equal(receipt.source.key, bad);
      assert.equal(receipt.host, undefined);
      await h.settled();
      // Test event + the one matching upload.
      assert.equal(h.invocations.length, 2);
    } finally {
      await h.close();
    }
  });

  it('retries after an S3 fault mid-write, and never shows a manifest without its database', async () => {
    const h = await startHarness();
    try {
      const { bytes, ids } = await fixture('web1.example.com', { snapshots: 3 });
      // Upload 1 fails writing its manifest (the database is already there);
      // upload 2 fails writing its database.
      h.faults.fail(isCommand('PutObjectCommand', new RegExp(`^metadata/${ids[0]}/manifest`)));
      h.faults.fail(isCommand('PutObjectCommand', new RegExp(`^metadata/${ids[1]}/db`)));

      const violations: string[] = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const keys = await h.list(BACKUP);
          for (const k of keys.filter((k) => k.endsWith('/manifest.json.zst'))) {
            if (!keys.includes(k.replace('manifest.json.zst', 'db.zst.age'))) violations.push(k);
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();

      await h.upload(`incoming/web1/${ids[0]}.db`, bytes);
      await h.upload(`incoming/web1/${ids[1]}.db`, bytes);
      const r1 = await h.waitForReceipt(`processed/web1/${ids[0]}.json`, 15_000);
      const r2 = await h.waitForReceipt(`processed/web1/${ids[1]}.json`, 15_000);
      await h.settled();
      watching = false;
      await watcher;

      assert.deepEqual(violations, []);
      assert.equal(h.invocations.filter((i) => i.failed).length, 2, 'each upload failed once');
      assert.equal(h.emf.count('ExportFailed'), 2);
      assert.equal(h.logs.filter((l) => l.level === 'ERROR' && /retried/.test(String(l.message))).length, 2);
      for (const r of [r1, r2]) {
        assert.equal(r.status, 'published');
        const db = await h.get(BACKUP, r.outputs!.db.key);
        const manifest = await decodeManifest(await h.get(BACKUP, r.outputs!.manifest.key));
        assert.equal(manifest.db.sha256, sha256(db), 'the manifest commits the database that is there');
        assert.equal(await restoreWithDebianTools(h, r), `${r.snapshot_id}|web1.example.com`);
      }
    } finally {
      await h.close();
    }
  });

  it(`parks a message in the DLQ after ${QUEUE.maxReceiveCount} failed receives, keeping the upload`, async () => {
    const h = await startHarness();
    try {
      const { bytes, ids } = await fixture('web1.example.com');
      const key = `incoming/web1/${ids[0]}.db`;
      h.faults.fail(isCommand('GetObjectCommand', /^incoming\//), Infinity);
      await h.upload(key, bytes);
      await waitFor(async () => (await h.stack.status()).dlqDepth === 1, 30_000, 'the DLQ');
      assert.equal(h.invocations.filter((i) => i.failed).length, QUEUE.maxReceiveCount);
      assert.equal(h.emf.count('ExportFailed'), QUEUE.maxReceiveCount);
      assert.equal(await h.exists(STAGING, key), true, 'the upload is never lost');
      assert.deepEqual(await h.list(STAGING, 'processed/'), []);
      assert.deepEqual(await h.list(STAGING, 'rejected/'), []);
      const parked = await h.stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: h.stack.dlqUrl, WaitTimeSeconds: 0 }));
      const event = JSON.parse(parked.Messages![0].Body!);
      assert.equal(event.Records[0].s3.object.key, `incoming/web1/${encodeURIComponent(ids[0])}.db`);
    } finally {
      await h.close();
    }
  });
});

/** For a describe block: fauxqs with the two buckets, EMF captured, a temp dir, for all its tests. */
function bucketsServer() {
  const state = {} as { server: Awaited<ReturnType<typeof startLocalAwsServer>>; dir: ReturnType<typeof tempDir>; emf: ReturnType<typeof captureEmf> };
  before(async () => {
    state.dir = tempDir();
    state.emf = captureEmf();
    state.server = await startLocalAwsServer();
    const s3 = createS3Client(localConnection(state.server.endpoint));
    for (const bucket of [STAGING, BACKUP]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
  });
  after(async () => {
    await state.server.close();
    state.emf.restore();
    state.dir.remove();
  });
  return state;
}

describe('export handler', () => {
  const stack = bucketsServer();
  let keys: Awaited<ReturnType<typeof makeKeys>>;
  before(async () => {
    keys = await makeKeys(stack.dir.path);
  });

  function handlerWithFaults(deadlineMarginMs?: number) {
    const faults = new S3Faults();
    const s3 = faults.attach(createS3Client(localConnection(stack.server.endpoint)));
    const logs: Array<Record<string, unknown>> = [];
    const handler = createExportHandler({
      config: { recipients: [keys.recipient], backupBucket: BACKUP, backupPrefix: 'vaultik/', deleteStaged: true, maxIndexBytes: 1 << 30, stagingBucket: STAGING },
      s3,
      logger: new StreamLogger((line) => logs.push(JSON.parse(line))),
      deadlineMarginMs,
    });
    const backup = new S3MetadataStore(s3, BACKUP);
    const receipt = async (key: string) => (await readReceipt(new S3MetadataStore(s3, STAGING), key))!;
    return { handler, faults, s3, logs, backup, receipt };
  }

  const objectEvent = (key: string) => objectCreatedEvent(STAGING, key);
  const context = lambdaContext;
  async function put(key: string, body: Uint8Array) {
    const s3 = createS3Client(localConnection(stack.server.endpoint));
    await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: body }));
    s3.destroy();
  }

  it('reports partial batch failures: a failing record does not fail its neighbours', async () => {
    const { handler, faults, s3, receipt } = handlerWithFaults();
    const { bytes, ids } = await fixture('web3.example.com');
    await put(`incoming/web3/${ids[0]}.db`, bytes);
    await put(`incoming/web3/${ids[1]}.db`, bytes);
    faults.fail(isCommand('GetObjectCommand', new RegExp(ids[1].replace(/[.+]/g, '\\$&'))), Infinity);
    const records = [
      sqsRecord({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: STAGING }),
      sqsRecord(objectEvent(`incoming/web3/${ids[0]}.db`)),
      sqsRecord(objectEvent(`incoming/web3/${ids[1]}.db`)),
      sqsRecord('not json at all'),
      sqsRecord(objectEvent('elsewhere/x.db')),
    ];
    const response = await handler({ Records: records } satisfies SQSEvent, context(60_000));
    assert.deepEqual(response.batchItemFailures.map((f) => f.itemIdentifier), [records[2].messageId, records[3].messageId]);
    const published = await receipt(`processed/web3/${ids[0]}.json`);
    assert.equal(published.status, 'published');
    // SNAPMETA_BACKUP_PREFIX applies to both outputs.
    assert.equal(published.outputs!.db.key, `vaultik/metadata/${ids[0]}/db.zst.age`);
    assert.equal(published.outputs!.manifest.key, `vaultik/metadata/${ids[0]}/manifest.json.zst`);
    s3.destroy();
  });

  it('stops before the Lambda deadline mid-write, fails the record, and a retry completes the export', async () => {
    const margin = 1000;
    const { handler, faults, s3, logs, backup, receipt } = handlerWithFaults(margin);
    const { bytes, ids } = await fixture('web4.example.com');
    const key = `incoming/web4/${ids[1]}.db`;
    await put(key, bytes);
    const held = faults.hold(isCommand('PutObjectCommand', /db\.zst\.age$/));
    const record = sqsRecord(objectEvent(key));
    // Two seconds of budget: far more than the small export needs before it writes.
    const first = handler({ Records: [record] }, context(margin + 2000));
    await held.reached;
    const response = await first;
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: record.messageId }]);
    assert.ok(logs.some((l) => l.level === 'ERROR' && JSON.stringify(l).includes('before the Lambda deadline')));
    held.release();
    const manifestKey = `vaultik/metadata/${ids[1]}/manifest.json.zst`;
    assert.equal(await backup.head(manifestKey), undefined, 'no manifest from the stopped attempt');

    const retry = await handler({ Records: [record] }, context(60_000));
    assert.deepEqual(retry.batchItemFailures, []);
    assert.equal((await receipt(`processed/web4/${ids[1]}.json`)).status, 'published');
    const manifest = await decodeManifest((await backup.get(manifestKey))!);
    assert.equal(manifest.db.sha256, sha256((await backup.get(`vaultik/metadata/${ids[1]}/db.zst.age`))!));
    s3.destroy();
  });

  it('refuses to start without a valid recipient or a backup bucket; reads recipients from SSM when told to', async () => {
    const noParameter = async (name: string): Promise<string> => assert.fail(`read parameter ${name}`);
    const load = (env: NodeJS.ProcessEnv, read = noParameter) => loadExportConfig({ SNAPMETA_BACKUP_BUCKET: 'b', ...env }, read);
    await assert.rejects(load({}), { code: 'NO_RECIPIENTS' });
    await assert.rejects(load({ SNAPMETA_AGE_RECIPIENTS: 'age1nope' }), { code: 'BAD_ARGUMENT' });
    await assert.rejects(loadExportConfig({ SNAPMETA_AGE_RECIPIENTS: keys.recipient }, noParameter), /SNAPMETA_BACKUP_BUCKET/);
    assert.deepEqual(
      await load({
        SNAPMETA_AGE_RECIPIENTS: `${keys.recipient}, ${keys.recipient}`,
        SNAPMETA_BACKUP_PREFIX: 'vaultik',
        SNAPMETA_DELETE_STAGED: 'false',
        SNAPMETA_MAX_INDEX_BYTES: '1048576',
        SNAPMETA_STAGING_BUCKET: 's',
        SNAPMETA_FORMAT: 'sqlite',
        SNAPMETA_KEY_SCHEME: 'hashed',
        SNAPMETA_ALLOW_UNNAMED_IDS: 'yes',
      }),
      {
        recipients: [keys.recipient], backupBucket: 'b', backupPrefix: 'vaultik/', deleteStaged: false, maxIndexBytes: 1048576, stagingBucket: 's',
        format: 'sqlite', keyScheme: 'hashed', allowUnnamedIds: true, checkBlobs: true, blobPrefix: undefined,
      },
    );
    const defaults = await load({ SNAPMETA_AGE_RECIPIENTS: keys.recipient });
    assert.deepEqual([defaults.format, defaults.keyScheme, defaults.allowUnnamedIds], ['sql', 'plain', false], "the seed's reader by default");
    await assert.rejects(load({ SNAPMETA_AGE_RECIPIENTS: keys.recipient, SNAPMETA_FORMAT: 'csv' }), /SNAPMETA_FORMAT must be sql or sqlite, not "csv"/);
    await assert.rejects(load({ SNAPMETA_AGE_RECIPIENTS: keys.recipient, SNAPMETA_KEY_SCHEME: 'sha1' }), /SNAPMETA_KEY_SCHEME must be plain or hashed/);
    await assert.rejects(load({ SNAPMETA_AGE_RECIPIENTS: keys.recipient, SNAPMETA_DELETE_STAGED: 'maybe' }), /SNAPMETA_DELETE_STAGED/);
    await assert.rejects(load({ SNAPMETA_AGE_RECIPIENTS: keys.recipient, SNAPMETA_BACKUP_PREFIX: '../x' }), /SNAPMETA_BACKUP_PREFIX/);

    // The CDK stack's default: recipients in an SSM String parameter, read at cold start.
    const asked: string[] = [];
    const fromSsm = await load({ SNAPMETA_RECIPIENTS_PARAMETER: '/snapmeta/age-recipients' }, async (name) => {
      asked.push(name);
      return `${keys.recipient}\n`;
    });
    assert.deepEqual([asked, fromSsm.recipients], [['/snapmeta/age-recipients'], [keys.recipient]]);
    await assert.rejects(load({ SNAPMETA_RECIPIENTS_PARAMETER: '/p' }, async () => ''), { code: 'NO_RECIPIENTS' });
  });
});

describe('recipients kept in SSM', () => {
  const stack = bucketsServer();

  async function decryptsWith(bytes: Uint8Array, identity: string): Promise<boolean> {
    try {
      await new Response(await ageDecryptStream(new Blob([new Uint8Array(bytes)]).stream(), [identity])).arrayBuffer();
      return true;
    } catch {
      return false;
    }
  }

  it('a warm function re-reads them once the refresh interval has passed; a failed re-read keeps the last good list and never shows the value', async () => {
    mkdirSync(join(stack.dir.path, 'a'));
    mkdirSync(join(stack.dir.path, 'b'));
    const [first, second] = [await makeKeys(join(stack.dir.path, 'a')), await makeKeys(join(stack.dir.path, 'b'))];
    const secret = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';
    let value: string | Error = first.recipient;
    let reads = 0;
    const readParameter = async (name: string) => {
      assert.equal(name, '/snapmeta/age-recipients');
      reads++;
      if (value instanceof Error) throw value;
      return value;
    };
    let now = 1_000_000;
    const env = { SNAPMETA_BACKUP_BUCKET: BACKUP, SNAPMETA_STAGING_BUCKET: STAGING, SNAPMETA_BACKUP_PREFIX: 'ssm/', SNAPMETA_RECIPIENTS_PARAMETER: '/snapmeta/age-recipients', SNAPMETA_RECIPIENTS_REFRESH_SECONDS: '120' };
    const config = await loadExportConfig(env, readParameter, () => now);
    const s3 = createS3Client(localConnection(stack.server.endpoint));
    const logs: string[] = [];
    const handler = createExportHandler({ config, s3, logger: new StreamLogger((line) => logs.push(line)) });
    const { bytes, ids } = await fixture('ssm1.example.com', { snapshots: 6 });
    const exportTo = async (id: string) => {
      const key = `incoming/ssm1/${id}.db`;
      await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: bytes }));
      assert.deepEqual((await handler({ Records: [sqsRecord(objectCreatedEvent(STAGING, key))] }, lambdaContext(60_000))).batchItemFailures, []);
      const db = (await new S3MetadataStore(s3, BACKUP).get(`ssm/metadata/${id}/db.zst.age`))!;
      return { first: await decryptsWith(db, first.identity), second: await decryptsWith(db, second.identity) };
    };
    try {
      assert.deepEqual(await exportTo(ids[0]), { first: true, second: false });
      value = second.recipient;
      now += 60_000;
      assert.deepEqual(await exportTo(ids[1]), { first: true, second: false }, 'within the interval: the list read at start');
      now += 61_000;
      assert.deepEqual(await exportTo(ids[2]), { first: false, second: true }, 'after it: the changed list');
      assert.ok(logs.some((l) => l.includes('the list changed')));

      value = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      now += 121_000;
      assert.deepEqual(await exportTo(ids[3]), { first: false, second: true }, 'SSM failing: the last good list');
      value = 'not-a-recipient-but-maybe-a-password';
      now += 121_000;
      assert.deepEqual(await exportTo(ids[4]), { first: false, second: true }, 'something else in the parameter: the last good list');
      value = secret;
      now += 121_000;
      assert.deepEqual(await exportTo(ids[5]), { first: false, second: true }, 'a private key in the parameter: the last good list');
      assert.equal(reads, 5, 'read at start, then once an interval has passed');
      const warnings = logs.map((l) => JSON.parse(l)).filter((l) => l.level === 'WARN' && /recipients/.test(l.message));
      assert.deepEqual(warnings.map((w) => [w.message, w.error, w.parameter, w.recipients]), [
        ['the recipients parameter could not be re-read; the last good list is kept', 'ThrottlingException', '/snapmeta/age-recipients', 1],
        ['the recipients parameter could not be re-read; the last good list is kept', 'BAD_ARGUMENT', '/snapmeta/age-recipients', 1],
        ['the recipients parameter could not be re-read; the last good list is kept', 'BAD_ARGUMENT', '/snapmeta/age-recipients', 1],
      ]);
      for (const shown of [secret, secret.slice(0, 20), 'not-a-recipient', first.recipient, second.recipient]) {
        assert.ok(!logs.some((l) => l.includes(shown)), 'no recipient and no parameter value in the logs');
      }
      // At cold start a bad value stops the start-up, without showing it either.
      await assert.rejects(loadExportConfig(env, async () => secret), (err: Error) => {
        assert.equal((err as { code?: string }).code, 'BAD_ARGUMENT');
        assert.match(err.message, /SSM parameter \/snapmeta\/age-recipients holds an age identity \(a private key\)/);
        assert.ok(!err.message.includes('SECRET'), err.message);
        return true;
      });
      await assert.rejects(loadExportConfig(env, async () => 'hunter2-not-a-recipient'), (err: Error) => {
        assert.match(err.message, /SSM parameter \/snapmeta\/age-recipients holds something other than age1… public keys; it is not shown/);
        assert.ok(!err.message.includes('hunter2'), err.message);
        return true;
      });
    } finally {
      s3.destroy();
    }
  });
});

describe('S3 metadata store', () => {
  it('writes once: If-None-Match reaches PutObject and CompleteMultipartUpload; 412 and 409 mean the object exists', async () => {
    const server = await startLocalAwsServer();
    const faults = new S3Faults();
    const s3 = faults.attach(createS3Client(localConnection(server.endpoint)));
    try {
      await s3.send(new CreateBucketCommand({ Bucket: BACKUP }));
      const store = new S3MetadataStore(s3, BACKUP);
      const meta = { contentType: 'application/octet-stream', metadata: { 'source-sha256': 'abc' } };
      assert.equal(await store.putIfAbsent('small', new Uint8Array([1, 2, 3]), meta), 'written');
      assert.equal(await store.putIfAbsent('small', new Uint8Array([4]), meta), 'exists');
      assert.deepEqual(await store.get('small'), new Uint8Array([1, 2, 3]));
      assert.deepEqual(await store.head('small'), { size: 3, metadata: { 'source-sha256': 'abc' } });
      assert.equal(await store.head('missing'), undefined);
      assert.equal(await store.get('missing'), undefined);

      // 12 MiB as a stream: three parts; the server refuses the second completion.
      const big = new Uint8Array(12 * 1024 * 1024).map((_, i) => i % 251);
      const stream = () => new Blob([big]).stream() as ReadableStream<Uint8Array>;
      assert.equal(await store.putIfAbsent('big', stream(), meta), 'written');
      faults.sent.length = 0;
      assert.equal(await store.putIfAbsent('big', stream(), meta), 'exists');
      assert.deepEqual(
        faults.sent.filter((c) => !c.command.startsWith('UploadPart')).map((c) => c.command),
        ['CreateMultipartUploadCommand', 'CompleteMultipartUploadCommand', 'AbortMultipartUploadCommand'],
      );
      assert.equal(sha256((await store.get('big'))!), sha256(big));

      faults.fail(isCommand('PutObjectCommand'), 1, () => s3Error(409, 'ConditionalRequestConflict', 'a conflicting conditional write is in progress'));
      assert.equal(await store.putIfAbsent('raced', new Uint8Array([1]), meta), 'exists');
      faults.fail(isCommand('PutObjectCommand'), 1);
      await assert.rejects(store.putIfAbsent('failed', new Uint8Array([1]), meta), { name: 'ServiceUnavailable' });

      const stop = new AbortController();
      stop.abort(new Error('out of time'));
      await assert.rejects(new S3MetadataStore(s3, BACKUP, { signal: stop.signal }).putIfAbsent('late', new Uint8Array([1]), meta), /out of time/);
      assert.equal(await store.head('late'), undefined);
    } finally {
      s3.destroy();
      await server.close();
    }
  });
});
