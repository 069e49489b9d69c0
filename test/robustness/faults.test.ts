// S3 faults on every call the export makes (read, database write, manifest
// write, receipt write, delete), injected on the wire by a proxy in front of the
// local S3 server; the deadline mid-export; one event delivered three times at
// once. Every case ends exported exactly once or retried, never with a
// manifest without its database, never with the staged upload deleted before
// its export is safe (both checked at the moment of the request).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createExportHandler } from '../../functions/export-handler.ts';
import { DirStore } from '../../lib/stores/dir-store.ts';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { publishExport } from '../../lib/pipeline/publish.ts';
import { metadataKeys } from '../../lib/core/keys.ts';
import { sha256Hex } from '../../lib/codecs/hash.ts';
import { createS3Client, localConnection } from '../../lib/service/aws-clients.ts';
import { S3MetadataStore } from '../../lib/stores/s3-store.ts';
import type { MetadataStore } from '../../lib/stores/store.ts';
import { sampleIndex, sampleSnapshotIds } from '../../lib/sample/sample-index.ts';
import { QUEUE } from '../../lib/service/settings.ts';
import { startLocalAwsServer } from '../../local/fauxqs-server.ts';
import { lambdaContext, objectCreatedEvent, sqsRecord } from '../support/aws/sqs-record.ts';
import { StreamLogger } from '../../local/stream-logger.ts';
import { makeKeys, tempDir, type Keys } from '../support/export-helpers.ts';
import { captureEmf } from '../support/aws/emf.ts';
import { startHarness, waitFor, type Harness } from '../support/aws/harness.ts';
import { FaultProxy, exactKey, s3Op, type FaultAction } from '../support/hostile/fault-proxy.ts';
import { assertExportedOnce, guardInvariants, type Buckets } from '../support/hostile/invariants.ts';

const HOST = 'web1';
const HOSTNAME = 'web1.example.com';

interface Scenario {
  name: string;
  /** Builds the rule from the snapshot's staged key and output keys. */
  fault: (k: { staged: string; db: string; manifest: string; receipt: string }) => { method: string; key: string; action: Exclude<FaultAction, 'hold'>; times: number };
  /** Failed invocations expected for this upload (each is a retry by SQS). */
  retries: number;
  /** The upload ends in the DLQ, kept, with its export done. */
  parked?: boolean;
}

// The SDK makes 3 attempts per call: 2 faults are absorbed, 3 fail the call.
const SCENARIOS: Scenario[] = [
  { name: 'read throttled twice (SDK retries absorb it)', fault: (k) => ({ method: 'GET', key: k.staged, action: 'slowdown', times: 2 }), retries: 0 },
  { name: 'read failing (500 ×3)', fault: (k) => ({ method: 'GET', key: k.staged, action: 'internal-error', times: 3 }), retries: 1 },
  { name: 'read cut off mid-body', fault: (k) => ({ method: 'GET', key: k.staged, action: 'truncate', times: 1 }), retries: 1 },
  { name: 'HEAD of the upload reset ×3', fault: (k) => ({ method: 'HEAD', key: k.staged, action: 'reset', times: 3 }), retries: 1 },
  { name: 'database write throttled ×3', fault: (k) => ({ method: 'PUT', key: k.db, action: 'slowdown', times: 3 }), retries: 1 },
  { name: 'database written, response lost', fault: (k) => ({ method: 'PUT', key: k.db, action: 'lost-response', times: 1 }), retries: 0 },
  { name: 'manifest write throttled ×3', fault: (k) => ({ method: 'PUT', key: k.manifest, action: 'slowdown', times: 3 }), retries: 1 },
  { name: 'manifest written, response lost', fault: (k) => ({ method: 'PUT', key: k.manifest, action: 'lost-response', times: 1 }), retries: 0 },
  { name: 'receipt write failing (500 ×3)', fault: (k) => ({ method: 'PUT', key: k.receipt, action: 'internal-error', times: 3 }), retries: 1 },
  { name: 'delete failing (503 ×3)', fault: (k) => ({ method: 'DELETE', key: k.staged, action: 'slowdown', times: 3 }), retries: 1 },
  { name: 'delete done, response lost', fault: (k) => ({ method: 'DELETE', key: k.staged, action: 'lost-response', times: 1 }), retries: 0 },
  { name: 'delete failing for ever', fault: (k) => ({ method: 'DELETE', key: k.staged, action: 'internal-error', times: Infinity }), retries: QUEUE.maxReceiveCount, parked: true },
];

describe('S3 faults through the local stack', () => {
  let h: Harness;
  let proxy: FaultProxy;
  let handlerS3: S3Client | undefined;
  let violations: string[];
  let buckets: Buckets;

  before(async () => {
    proxy = await FaultProxy.start();
    h = await startHarness({
      handlerS3: (endpoint) => {
        proxy.target = endpoint;
        return (handlerS3 = createS3Client(localConnection(proxy.endpoint)));
      },
    });
    buckets = { stagingBucket: h.stack.names.stagingBucket, backupBucket: h.stack.names.backupBucket };
    violations = guardInvariants(proxy, h.stack.s3, buckets);
  });
  after(async () => {
    await h.close();
    handlerS3?.destroy();
    await proxy.close();
  });

  it(`${SCENARIOS.length} uploads, one fault each: exported exactly once or retried, never unsafe`, { timeout: 90_000 }, async () => {
    const opts = { layout: 'v2' as const, hostname: HOSTNAME, snapshots: SCENARIOS.length, filesPerSnapshot: 15 };
    const bytes = await sampleIndex(opts);
    const ids = sampleSnapshotIds(opts);
    const staged = ids.map((id) => `incoming/${HOST}/${id}.db`);
    SCENARIOS.forEach((s, i) => {
      const { dbKey, manifestKey } = metadataKeys('', ids[i]);
      const f = s.fault({ staged: staged[i], db: dbKey, manifest: manifestKey, receipt: `processed/${HOST}/${ids[i]}.json` });
      proxy.inject(s3Op(f.method, exactKey(f.key)), f.action, f.times);
    });
    // And a corrupt upload whose rejection receipt cannot be written at first.
    const corrupt = `incoming/${HOST}/${HOSTNAME}_2026-12-31T00:00:00Z.db`;
    const rejectedKey = `rejected/${HOST}/${HOSTNAME}_2026-12-31T00:00:00Z.json`;
    proxy.inject(s3Op('PUT', exactKey(rejectedKey)), 'internal-error', 3);
    const t0 = performance.now();
    await Promise.all([...staged.map((key) => h.upload(key, bytes)), h.upload(corrupt, bytes.subarray(0, 5000))]);
    await waitFor(async () => {
      const s = await h.stack.status();
      return s.queueDepth === 0 && s.inFlight === 0 && s.dlqDepth === SCENARIOS.filter((x) => x.parked).length;
    }, 60_000, 'every upload exported or parked');
    const drainMs = performance.now() - t0;

    assert.deepEqual(violations, []);
    for (const [i, s] of SCENARIOS.entries()) {
      await assertExportedOnce(proxy, h.stack.s3, buckets, staged[i], { stagedKept: s.parked });
      const retries = h.logs.filter((l) => l.level === 'ERROR' && l.key === staged[i]).length;
      assert.equal(retries, s.retries, `${s.name}: ${retries} failed invocations`);
    }
    assert.equal((await h.receipt(rejectedKey))?.error?.code, 'CORRUPT');
    assert.equal(h.logs.filter((l) => l.level === 'ERROR' && l.key === corrupt).length, 1, 'the rejection is retried once, for its receipt');
    assert.ok(await h.exists(buckets.stagingBucket, corrupt), 'a rejected upload is kept');
    const faults = proxy.log.filter((r) => r.fault).length;
    const failed = h.invocations.filter((i) => i.failed).length;
    console.log(`# faults: ${SCENARIOS.length + 1} uploads, ${faults} injected faults, ${failed} failed invocations, ${(await h.stack.status()).dlqDepth} in the DLQ, drained in ${Math.round(drainMs)} ms`);
  });
});

describe('the deadline and concurrent deliveries (the handler, invoked directly)', () => {
  const STAGING = 'hostile-staging';
  const BACKUP = 'hostile-backups';
  const buckets: Buckets = { stagingBucket: STAGING, backupBucket: BACKUP };
  let server: Awaited<ReturnType<typeof startLocalAwsServer>>;
  let proxy: FaultProxy;
  let direct: S3Client;
  let proxied: S3Client;
  let keys: Keys;
  let dir: ReturnType<typeof tempDir>;
  let violations: string[];
  let bytes: Uint8Array;
  let ids: string[];
  let emf: ReturnType<typeof captureEmf>;

  before(async () => {
    emf = captureEmf();
    dir = tempDir('snapmeta-faults-');
    keys = await makeKeys(dir.path);
    server = await startLocalAwsServer();
    proxy = await FaultProxy.start();
    proxy.target = server.endpoint;
    direct = createS3Client(localConnection(server.endpoint));
    proxied = createS3Client(localConnection(proxy.endpoint));
    for (const Bucket of [STAGING, BACKUP]) await direct.send(new CreateBucketCommand({ Bucket }));
    violations = guardInvariants(proxy, direct, buckets);
    const opts = { layout: 'v1' as const, hostname: HOSTNAME, snapshots: 4, filesPerSnapshot: 30 };
    bytes = await sampleIndex(opts);
    ids = sampleSnapshotIds(opts);
  });
  after(async () => {
    direct.destroy();
    proxied.destroy();
    await proxy.close();
    await server.close();
    dir.remove();
    emf.restore();
  });

  const handler = (deadlineMarginMs = 1000) => createExportHandler({
    config: { recipients: [keys.recipient], backupBucket: BACKUP, backupPrefix: '', deleteStaged: true, maxIndexBytes: 1 << 30, stagingBucket: STAGING },
    s3: proxied,
    logger: new StreamLogger(() => {}),
    deadlineMarginMs,
  });
  const record = (key: string) => sqsRecord(objectCreatedEvent(STAGING, key, bytes.byteLength));
  const context = lambdaContext;
  const stage = (key: string) => direct.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: bytes }));

  for (const [i, stop] of (['GET', 'PUT'] as const).entries()) {
    it(`runs out of time during the ${stop === 'GET' ? 'download' : 'manifest write'}: the record fails, nothing half-done is visible, a retry completes it`, { timeout: 30_000 }, async () => {
      const key = `incoming/${HOST}/${ids[i]}.db`;
      const { dbKey, manifestKey } = metadataKeys('', ids[i]);
      await stage(key);
      const held = proxy.hold(s3Op(stop, exactKey(stop === 'GET' ? key : manifestKey)));
      const first = handler()({ Records: [record(key)] }, context(1000 + 1500));
      await held.reached;
      const response = await first;
      assert.equal(response.batchItemFailures.length, 1, 'stopped at the deadline: the record is retried');
      held.release();
      const backup = new S3MetadataStore(direct, BACKUP);
      assert.equal(await backup.head(manifestKey), undefined, 'no manifest from the stopped attempt');
      assert.equal(Boolean(await backup.head(dbKey)), stop === 'PUT', stop === 'PUT' ? 'the database was written before the deadline' : 'nothing written');
      assert.ok(await new S3MetadataStore(direct, STAGING).head(key), 'the upload is kept');

      const retry = await handler()({ Records: [record(key)] }, context(60_000));
      assert.deepEqual(retry.batchItemFailures, []);
      await assertExportedOnce(proxy, direct, buckets, key);
      assert.deepEqual(violations, []);
    });
  }

  it('the same event delivered three times at once: one export, the others duplicates or retried', { timeout: 30_000 }, async () => {
    const key = `incoming/${HOST}/${ids[3]}.db`;
    await stage(key);
    const rec = record(key);
    const responses = await Promise.all([0, 1, 2].map(() => handler(0)({ Records: [rec] }, context(60_000))));
    const failed = responses.filter((r) => r.batchItemFailures.length).length;
    // SQS would redeliver a failed record: do so until none fails.
    for (let left = failed; left > 0; left--) assert.deepEqual((await handler(0)({ Records: [rec] }, context(60_000))).batchItemFailures, []);
    await assertExportedOnce(proxy, direct, buckets, key);
    assert.deepEqual(violations, []);
    const attempts = proxy.log.filter((r) => r.method === 'PUT' && r.key === metadataKeys('', ids[3]).dbKey).length;
    console.log(`# concurrent deliveries: 3 at once, ${failed} failed and retried, ${attempts} database write attempts, 1 stored`);
  });

  it('the CLI resumes an export whose manifest write never happened (same source)', async () => {
    const store = new DirStore(dir.path);
    const source = { sha256: sha256Hex(bytes), size: bytes.byteLength };
    // A crashed first attempt: the database is there, the manifest is not.
    let job = await openExport(bytes, { snapshotId: ids[0] });
    const { dbKey } = metadataKeys('', ids[0]);
    const crashing: MetadataStore = {
      head: (k) => store.head(k),
      get: (k) => store.get(k),
      getStream: (k) => store.getStream(k),
      putIfAbsent: (k, body, o) => (k === dbKey ? store.putIfAbsent(k, body, o) : Promise.reject(new Error('crash'))),
    };
    await assert.rejects(publishExport(job, crashing, { recipients: [keys.recipient], source }), /crash/);
    job.close();
    job = await openExport(bytes, { snapshotId: ids[0] });
    try {
      assert.equal((await publishExport(job, store, { recipients: [keys.recipient], source })).status, 'published');
    } finally {
      job.close();
    }
  });
});

describe('DirStore metadata sidecars', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('snapmeta-dirstore-');
  });
  after(() => dir.remove());

  it('a concurrent loser of the link leaves the winner\'s sidecar alone', async () => {
    const store = new DirStore(dir.path);
    const key = 'metadata/race/db.zst.age';
    const put = (n: number) => store.putIfAbsent(key, new Uint8Array([n]), { contentType: 'x', metadata: { 'source-sha256': `s${n}` } });
    assert.equal(await put(1), 'written');
    assert.equal(await put(2), 'exists');
    assert.deepEqual(await store.head(key), { size: 1, metadata: { 'source-sha256': 's1' } });
    // Both runs at once: exactly one wins, and the sidecar is the winner's.
    const key2 = 'metadata/race2/db.zst.age';
    const outcomes = await Promise.all([1, 2].map((n) => store.putIfAbsent(key2, new Uint8Array([n]), { contentType: 'x', metadata: { 'source-sha256': `s${n}` } })));
    assert.deepEqual([...outcomes].sort(), ['exists', 'written']);
    const winner = (await store.get(key2))![0];
    assert.equal((await store.head(key2))?.metadata['source-sha256'], `s${winner}`);
    assert.deepEqual(readdirSync(join(dir.path, 'metadata', 'race2')).sort(), ['.db.zst.age.meta.json', 'db.zst.age'], 'no temp files left');
  });

  it('an object without a sidecar (a crash after the link, or an older version) or with a broken one has metadata {}', async () => {
    const store = new DirStore(dir.path);
    mkdirSync(join(dir.path, 'metadata', 'old'), { recursive: true });
    writeFileSync(join(dir.path, 'metadata', 'old', 'db.zst.age'), new Uint8Array(3));
    assert.deepEqual(await store.head('metadata/old/db.zst.age'), { size: 3, metadata: {} });
    writeFileSync(store.sidecarPath('metadata/old/db.zst.age'), '{"metadata": {"source-sha');
    assert.deepEqual(await store.head('metadata/old/db.zst.age'), { size: 3, metadata: {} });
    assert.equal(await store.head('metadata/old/missing'), undefined);
  });
});
