// The runtime bounds of the export function, through the local stack (fauxqs on
// 127.0.0.1, the real handler, a real worker thread): the deadline stops a
// CPU-bound stage and the message still ends with a receipt; the function's
// memory refuses what it cannot hold before allocating it; SQLite's heap limit
// turns exhaustion into a receipt; one warm worker serves record after record.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compressFrame } from '../../lib/codecs/zstd.ts';
import { ExportWorkers } from '../../lib/pipeline/worker-export.ts';
import { largestIndexFor, sqliteHeapLimit } from '../../lib/service/memory.ts';
import { workerSettings } from '../../lib/service/process-upload.ts';
import { QUEUE } from '../../lib/service/settings.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { startHarness } from '../support/aws/harness.ts';
import { tempDir } from '../support/export-helpers.ts';
import { sqlite } from '../support/sqlite-cli.ts';

const MiB = 2 ** 20;
const STAGING = 'snapmeta-staging';
const BACKUP = 'snapmeta-backups';
let dir: ReturnType<typeof tempDir>;

before(() => {
  dir = tempDir('snapmeta-bounds-');
});
after(() => dir.remove());

async function fixture(extra: Partial<SampleIndexOptions> = {}) {
  const opts: SampleIndexOptions = { layout: 'v2', hostname: 'web1.example.com', snapshots: 2, filesPerSnapshot: 50, ...extra };
  return { bytes: await sampleIndex(opts), ids: sampleSnapshotIds(opts) };
}

/**
 * An index that is small to send and long to open: 8 million rows of an
 * agent's table for another snapshot, which the prune reads through (208 MB),
 * zstd-compressed to under 6 MB.
 */
async function slowToOpen(): Promise<{ zst: Buffer; indexBytes: number; id: string }> {
  const { bytes, ids } = await fixture();
  const path = join(dir.path, 'slow.db');
  writeFileSync(path, bytes);
  sqlite(path, `CREATE TABLE agent_notes (snapshot_id TEXT, n INTEGER);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000000) INSERT INTO agent_notes SELECT 'another snapshot', 0 FROM n;`);
  execFileSync('zstd', ['-q', '-f', '-3', path, '-o', `${path}.zst`]);
  return { zst: readFileSync(`${path}.zst`), indexBytes: readFileSync(path).byteLength, id: ids[1] };
}

describe('the deadline', () => {
  it(`a prune that cannot finish in time: retried once, then an EXPORT_TIMEOUT receipt on receive ${QUEUE.timeoutReceiptFromReceive}; the upload kept, the worker replaced`, { timeout: 120_000 }, async (t) => {
    const workers = new ExportWorkers();
    // 1.6 s of function, stopped 1 s before its end: 600 ms for each export.
    const h = await startHarness({ workers, functionTimeoutSeconds: 1.6, deadlineMarginMs: 1000, visibilityTimeoutSeconds: 3 });
    try {
      const slow = await slowToOpen();
      const key = `incoming/web1/${slow.id}.db.zst`;
      const t0 = performance.now();
      await h.upload(key, slow.zst);
      const receipt = await h.waitForReceipt(`rejected/web1/${slow.id}.json`, 30_000);
      const toReceiptMs = performance.now() - t0;
      await h.settled();

      assert.equal(receipt.error!.code, 'EXPORT_TIMEOUT');
      assert.match(receipt.error!.message, /its (decompress|load|prune) stage ran \d+\.\d s before the deadline stopped it, on receive 2/);
      assert.match(receipt.error!.message, /more memory.*a smaller index; the upload is kept/);
      assert.ok(await h.exists(STAGING, key), 'the upload is kept');
      assert.deepEqual(await h.list(BACKUP, `metadata/${slow.id}/`), [], 'nothing published');
      const failures = h.logs.filter((l) => l.level === 'ERROR').map((l) => `${l.key}: ${JSON.stringify(l.error)}`);
      assert.equal(failures.length, 1, `the first receive only: ${failures.join('; ')}`);
      assert.ok(failures[0].startsWith(key) && failures[0].includes('ExportStopped'), failures[0]);
      assert.equal((await h.stack.status()).dlqDepth, 0);
      assert.equal(h.emf.count('ExportRejected', { code: 'EXPORT_TIMEOUT' }), 1);
      assert.equal(workers.started, 3, 'each stopped worker replaced');
      t.diagnostic(`${(slow.zst.byteLength / MiB).toFixed(1)} MiB .db.zst of a ${(slow.indexBytes / MiB).toFixed(0)} MiB index, 600 ms per receive, visibility 3 s: receipt ${Math.round(toReceiptMs)} ms after the upload`);
    } finally {
      await h.close();
      await workers.close();
    }
  });
});

describe('the export worker', () => {
  it('one warm worker serves record after record', { timeout: 60_000 }, async () => {
    const workers = new ExportWorkers();
    const h = await startHarness({ workers });
    try {
      const { bytes, ids } = await fixture({ snapshots: 3 });
      for (const id of ids) {
        await h.upload(`incoming/web1/${id}.db`, bytes);
        assert.equal((await h.waitForReceipt(`processed/web1/${id}.json`, 30_000)).status, 'published');
      }
      assert.equal(workers.started, 1);
    } finally {
      await h.close();
      await workers.close();
    }
  });
});

describe("the function's memory", () => {
  it('an index it cannot hold is INDEX_TOO_LARGE: from the HEAD, before any download; a .db.zst while it inflates', { timeout: 60_000 }, async (t) => {
    const memoryMb = 266;
    const limit = largestIndexFor(memoryMb);
    assert.equal(limit, Math.floor((266 - 256) * MiB / 1.3), '1.3 × index + 256 MiB');
    const h = await startHarness({ functionMemoryMb: memoryMb });
    try {
      const { bytes, ids } = await fixture({ filesPerSnapshot: 2000 });
      assert.ok(bytes.byteLength > limit, `${bytes.byteLength} bytes is over ${limit}`);
      const plain = `incoming/web1/${ids[0]}.db`;
      let t0 = performance.now();
      await h.upload(plain, bytes);
      const byHead = await h.waitForReceipt(`rejected/web1/${ids[0]}.json`, 30_000);
      const byHeadMs = performance.now() - t0;
      assert.equal(byHead.error!.code, 'INDEX_TOO_LARGE');
      assert.match(byHead.error!.message, new RegExp(`a function of 266 MB holds indexes up to ${limit} bytes .*give it \\d+ MB or more`));
      assert.ok(!h.faults.sent.some((c) => c.command === 'GetObjectCommand' && c.key === plain), 'never downloaded');

      const zst = await compressFrame(bytes, 1);
      assert.ok(zst.byteLength < limit);
      t0 = performance.now();
      await h.upload(`incoming/web1/${ids[1]}.db.zst`, zst);
      const inflating = await h.waitForReceipt(`rejected/web1/${ids[1]}.json`, 30_000);
      t.diagnostic(`${(bytes.byteLength / MiB).toFixed(1)} MiB index, ${memoryMb} MB function (holds ${(limit / MiB).toFixed(1)} MiB): receipt ${Math.round(byHeadMs)} ms after the upload; its ${(zst.byteLength / MiB).toFixed(1)} MiB .db.zst: ${Math.round(performance.now() - t0)} ms (both from the upload's PUT)`);
      assert.equal(inflating.error!.code, 'INDEX_TOO_LARGE');
      assert.match(inflating.error!.message, new RegExp(`more than the limit of ${limit} bytes`));
      await h.settled();
      assert.deepEqual(await h.list(BACKUP), []);
      assert.ok(h.invocations.every((i) => i.failed === 0), 'answers, not retries');
    } finally {
      await h.close();
    }
  });

  it("SQLite's heap limit, from the memory beside the largest index, turns exhaustion into an INDEX_TOO_LARGE receipt", { timeout: 60_000 }, async (t) => {
    // The limit the function sets: its memory less the runtime and the largest index it takes.
    assert.equal(sqliteHeapLimit(3008, 1024 ** 3), 3008 * MiB - 192 * MiB - 1024 ** 3);
    assert.deepEqual(workerSettings({ functionMemoryMb: 300, maxIndexBytes: 1024 ** 3 } as never), { heapLimitBytes: 300 * MiB - 192 * MiB - largestIndexFor(300) });
    // A 4 MiB heap cannot prune a 10 MB index.
    const workers = new ExportWorkers({ heapLimitBytes: 4 * MiB });
    const h = await startHarness({ workers });
    try {
      const { bytes, ids } = await fixture({ filesPerSnapshot: 2000 });
      const key = `incoming/web1/${ids[1]}.db`;
      const t0 = performance.now();
      await h.upload(key, bytes);
      const receipt = await h.waitForReceipt(`rejected/web1/${ids[1]}.json`, 30_000);
      t.diagnostic(`${(bytes.byteLength / MiB).toFixed(1)} MiB index, 4 MiB of SQLite heap: receipt ${Math.round(performance.now() - t0)} ms after the upload`);
      assert.equal(receipt.error!.code, 'INDEX_TOO_LARGE');
      assert.match(receipt.error!.message, /needs more memory than this export has: out of memory/);
      await h.settled();
      assert.ok(await h.exists(STAGING, key), 'the upload is kept');
      assert.ok(h.invocations.every((i) => i.failed === 0));
      assert.equal(workers.started, 1, 'the worker lives on');
    } finally {
      await h.close();
      await workers.close();
    }
  });
});
