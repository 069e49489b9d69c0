// The load run (`npm run test:load`, not part of `npm test`): 200 uploads from
// 20 concurrent agents of mixed sizes, a few corrupt, through the local stack on
// 127.0.0.1 with Lambda's concurrency of 5 pollers, S3 delivering every event
// twice and throttling 3% of the function's S3 requests. Agents upload and wait
// for their receipts as `snapmeta upload` does. Reports uploads in, exports
// out, rejections, DLQ, duplicates written (0), lost uploads (0), drain time.
// Then one snapshot of 1.8 million rows through the core, timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import { uploadIndex, waitForReceipt } from '../../cli/upload.ts';
import { createExportHandler } from '../../functions/export-handler.ts';
import { DEFAULT_FUNCTION, QUEUE } from '../../lib/service/settings.ts';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { readIndexFile } from '../../cli/read-index.ts';
import { decodeManifest } from '../../lib/core/manifest.ts';
import { publishExport } from '../../lib/pipeline/publish.ts';
import { metadataKeys } from '../../lib/core/keys.ts';
import { sha256Hex } from '../../lib/codecs/hash.ts';
import { createS3Client, localConnection } from '../../lib/service/aws-clients.ts';
import { S3MetadataStore } from '../../lib/stores/s3-store.ts';
import { sampleIndexSql, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { parseStagingKey, stagingKey } from '../../lib/core/keys.ts';
import { SqsEventSource } from '../../local/event-source.ts';
import { StreamLogger } from '../../local/stream-logger.ts';
import { startHarness, waitFor } from '../support/aws/harness.ts';
import { makeKeys, tempDir } from '../support/export-helpers.ts';
import { FaultProxy } from '../support/hostile/fault-proxy.ts';
import { guardInvariants } from '../support/hostile/invariants.ts';
import { MemoryStore } from '../../lib/stores/memory-store.ts';
import { prng } from '../support/hostile/random.ts';
import { sqlite } from '../support/sqlite-cli.ts';

const AGENTS = 20;
const UPLOADS_PER_AGENT = 10;
const SIZES: Record<string, number> = { small: 40, medium: 600, large: 4000 }; // files per snapshot
const sizeOf = (agent: number) => (agent % 10 === 9 ? 'large' : agent % 3 === 0 ? 'medium' : 'small');
/** (agent, upload) pairs that send a damaged index instead: 5 truncated, 5 garbage. */
const CORRUPT = new Map<string, 'CORRUPT' | 'NOT_SQLITE'>([
  ['1:3', 'CORRUPT'], ['4:7', 'CORRUPT'], ['8:2', 'CORRUPT'], ['13:5', 'CORRUPT'], ['17:9', 'CORRUPT'],
  ['2:6', 'NOT_SQLITE'], ['6:1', 'NOT_SQLITE'], ['11:8', 'NOT_SQLITE'], ['15:4', 'NOT_SQLITE'], ['19:0', 'NOT_SQLITE'],
]);
const EXTRA_POLLERS = DEFAULT_FUNCTION.maxConcurrency - 1;
const THROTTLED = 0.03;
const RUN_TIMEOUT_MS = 10 * 60_000;

interface Outcome {
  agent: number;
  key: string;
  expected: string;
  got?: string;
  latencyMs: number;
}

test(`load: ${AGENTS * UPLOADS_PER_AGENT} uploads from ${AGENTS} concurrent agents through the local stack`, { timeout: RUN_TIMEOUT_MS }, async (t) => {
  const proxy = await FaultProxy.start();
  const rand = prng(2026);
  proxy.inject(() => rand() < THROTTLED, 'slowdown', Infinity);
  const clients: S3Client[] = [];
  const proxied = () => {
    const client = createS3Client(localConnection(proxy.endpoint));
    clients.push(client);
    return client;
  };
  // A visibility timeout far above one export, as deployed (6 × the function timeout there).
  const h = await startHarness({
    visibilityTimeoutSeconds: 30, functionTimeoutSeconds: 120, deadlineMarginMs: 10_000, duplicateDeliveries: 1,
    handlerS3: (endpoint) => {
      proxy.target = endpoint;
      return proxied();
    },
  });
  const pollers: SqsEventSource[] = [];
  try {
    const { names } = h.stack;
    const violations = guardInvariants(proxy, h.stack.s3, { stagingBucket: names.stagingBucket, backupBucket: names.backupBucket });
    let failedInvocations = 0;
    h.stack.onInvoke((r) => void (failedInvocations += r.failed ? 1 : 0));
    const queueArn = await arnOf(h.stack.sqs, h.stack.queueUrl);
    for (let i = 0; i < EXTRA_POLLERS; i++) {
      const poller = new SqsEventSource({
        sqs: h.stack.sqs, queueUrl: h.stack.queueUrl, queueArn, region: 'us-east-1', batchSize: QUEUE.batchSize, functionTimeoutMs: 120_000,
        handler: createExportHandler({
          config: { recipients: [h.keys.recipient], backupBucket: names.backupBucket, backupPrefix: '', deleteStaged: true, maxIndexBytes: DEFAULT_FUNCTION.maxIndexBytes, stagingBucket: names.stagingBucket },
          s3: proxied(), logger: new StreamLogger((line) => h.logs.push(JSON.parse(line))),
        }),
        onInvoke: (r) => void (failedInvocations += r.failed ? 1 : 0),
      });
      poller.start();
      pollers.push(poller);
    }

    // Each agent's index (its 10 snapshots), built with the sqlite3 CLI.
    const agents = Array.from({ length: AGENTS }, (_, a) => {
      const opts: SampleIndexOptions = { layout: a % 2 ? 'v2' : 'v1', hostname: `agent${a}.example.com`, snapshots: UPLOADS_PER_AGENT, filesPerSnapshot: SIZES[sizeOf(a)], seed: a + 1 };
      const file = join(h.dir, `agent${a}.db`);
      sqlite(file, sampleIndexSql(opts));
      return { host: `agent${a}`, file, ids: sampleSnapshotIds(opts), compress: a % 4 === 1, size: statSync(file).size };
    });
    const truncated = join(h.dir, 'truncated.db');
    writeFileSync(truncated, readFileSync(agents[0].file).subarray(0, 3 * 4096 + 17));
    const garbage = join(h.dir, 'garbage.db');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 40_000 }, () => Math.floor(rand() * 256))));
    const bytesIn = agents.reduce((sum, a) => sum + a.size * UPLOADS_PER_AGENT, 0);

    const s3 = h.stack.s3;
    const outcomes: Outcome[] = [];
    const t0 = performance.now();
    await Promise.all(agents.map(async (agent, a) => {
      for (let u = 0; u < UPLOADS_PER_AGENT; u++) {
        const corrupt = CORRUPT.get(`${a}:${u}`);
        const staged = parseStagingKey(stagingKey(agent.host, agent.ids[u], agent.compress))!;
        const started = performance.now();
        const file = corrupt === 'CORRUPT' ? truncated : corrupt === 'NOT_SQLITE' ? garbage : agent.file;
        const { uploadId } = await uploadIndex(s3, { file, bucket: names.stagingBucket, staged });
        const found = await waitForReceipt(s3, { bucket: names.stagingBucket, staged, uploadId, timeoutMs: RUN_TIMEOUT_MS / 2, intervalMs: 200 });
        const got = found && (found.receipt.status === 'rejected' ? found.receipt.error!.code : 'exported');
        outcomes.push({ agent: a, key: staged.key, expected: corrupt ?? 'exported', got, latencyMs: performance.now() - started });
      }
    }));
    const receiptsMs = performance.now() - t0;
    await waitFor(async () => {
      const s = await h.stack.status();
      return s.queueDepth === 0 && s.inFlight === 0;
    }, RUN_TIMEOUT_MS / 2, 'the queue to drain');
    const drainMs = performance.now() - t0;

    // What S3 holds: every export written once, its manifest committing its database.
    const backup = new S3MetadataStore(s3, names.backupBucket);
    const exported = outcomes.filter((o) => o.got === 'exported');
    for (const o of exported) {
      const { dbKey, manifestKey } = metadataKeys('', parseStagingKey(o.key)!.snapshotId);
      const manifest = await decodeManifest((await backup.get(manifestKey))!);
      assert.equal(manifest.db.sha256, createHash('sha256').update((await backup.get(dbKey))!).digest('hex'));
    }
    const writes = new Map<string, number>();
    for (const r of proxy.log) {
      if (r.bucket === names.backupBucket && r.method === 'PUT' && r.status !== undefined && r.status < 300) writes.set(r.key, (writes.get(r.key) ?? 0) + 1);
    }
    const duplicatesWritten = [...writes.values()].reduce((sum, n) => sum + n - 1, 0);
    const lost = outcomes.filter((o) => o.got === undefined).length + (AGENTS * UPLOADS_PER_AGENT - outcomes.length);
    const status = await h.stack.status();
    const latencies = outcomes.map((o) => o.latencyMs).sort((a, b) => a - b);
    const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]);
    const rejected = countBy(outcomes.filter((x) => x.got && x.got !== 'exported').map((o) => o.got!));
    const report = {
      uploadsIn: outcomes.length,
      bytesIn,
      agents: `${AGENTS} (${agents.filter((a) => a.compress).length} uploading .db.zst; index sizes ${Math.min(...agents.map((a) => a.size))}-${Math.max(...agents.map((a) => a.size))} bytes)`,
      exportsOut: exported.length,
      rejections: rejected,
      dlq: status.dlqDepth,
      duplicatesWritten,
      lostUploads: lost,
      deliveries: `${2 * outcomes.length} events (each delivered twice), ${failedInvocations} failed invocations retried, ${proxy.log.filter((r) => r.fault).length} S3 requests throttled`,
      retriedBecause: countBy(h.logs.filter((l) => l.level === 'ERROR').map((l) => String((l.error as { message?: string } | undefined)?.message ?? l.message).slice(0, 80))),
      receiptLatencyMs: { p50: pct(0.5), p95: pct(0.95), max: pct(1) },
      allReceiptsMs: Math.round(receiptsMs),
      drainMs: Math.round(drainMs),
    };
    t.diagnostic(JSON.stringify(report));
    console.log(JSON.stringify(report, null, 2));

    assert.deepEqual(violations, []);
    assert.equal(report.uploadsIn, AGENTS * UPLOADS_PER_AGENT);
    assert.deepEqual(outcomes.filter((o) => o.got !== o.expected), [], 'every upload ends as expected');
    assert.equal(report.exportsOut, AGENTS * UPLOADS_PER_AGENT - CORRUPT.size);
    assert.equal(report.dlq, 0);
    assert.equal(duplicatesWritten, 0);
    assert.equal(lost, 0);
    const staged = await h.list(names.stagingBucket, 'incoming/');
    assert.deepEqual(staged, outcomes.filter((o) => o.expected !== 'exported').map((o) => o.key).sort(), 'only the rejected uploads are kept');
  } finally {
    await Promise.all(pollers.map((p) => p.stop()));
    await h.close();
    for (const c of clients) c.destroy();
    await proxy.close();
  }
});

test('load: one snapshot of ~1.8 million rows through the core, timed', { timeout: RUN_TIMEOUT_MS }, async (t) => {
  const dir = tempDir('snapmeta-rows-');
  try {
    const opts: SampleIndexOptions = { layout: 'v2', snapshots: 2, filesPerSnapshot: 100_000 };
    const path = join(dir.path, 'index.db');
    let t0 = performance.now();
    sqlite(path, sampleIndexSql(opts));
    const buildMs = performance.now() - t0;
    const keys = await makeKeys(dir.path);
    const { bytes } = await readIndexFile(path);
    const source = { sha256: sha256Hex(bytes), size: bytes.byteLength };
    t0 = performance.now();
    const job = await openExport(bytes, { snapshotId: sampleSnapshotIds(opts)[1] });
    const store = new MemoryStore();
    let result;
    try {
      result = await publishExport(job, store, { recipients: [keys.recipient], source });
    } finally {
      job.close();
    }
    const ms = performance.now() - t0;
    const rows = Object.values(result.rows).reduce((a, b) => a + b, 0);
    const report = {
      indexBytes: source.size,
      rowsKept: rows,
      exportMs: Math.round(ms),
      stagesMs: Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, Math.round(v)])),
      dbBytes: result.db.size,
      buildMs: Math.round(buildMs),
      maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    t.diagnostic(JSON.stringify(report));
    console.log(JSON.stringify(report, null, 2));
    assert.ok(rows > 1_000_000, `${rows} rows`);
  } finally {
    dir.remove();
  }
});

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

async function arnOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return out.Attributes!.QueueArn!;
}
