// The published export's blobs, looked for in the backup bucket (fauxqs over
// HTTP): missing ones and ones of another size are reported in the receipt and
// as a metric, and the export is published all the same.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { createS3Client, localConnection } from '../../lib/service/aws-clients.ts';
import { checkBlobs, type BlobCheck } from '../../lib/service/blob-check.ts';
import { startLocalAwsServer } from '../../local/fauxqs-server.ts';
import { putBlobs } from '../support/aws/blobs.ts';
import { startHarness, waitFor } from '../support/aws/harness.ts';

const fakeHash = (n: number) => Buffer.from(String(n)).toString('hex').padEnd(64, '0').slice(0, 64).replace(/^../, (n % 256).toString(16).padStart(2, '0'));

describe('blob existence check', () => {
  it('the service reports missing blobs and other sizes in the receipt and as a metric, and publishes the export', async () => {
    const h = await startHarness({ backupPrefix: 'vaultik/' });
    try {
      const opts: SampleIndexOptions = { layout: 'v2', hostname: 'web1.example.com', snapshots: 2, filesPerSnapshot: 60, chunksPerBlob: 8 };
      const [bytes, id] = [await sampleIndex(opts), sampleSnapshotIds(opts)[1]];
      const job = await openExport(bytes, { snapshotId: id });
      const sizes = { ...job.blobSizes! };
      job.close();
      const [gone, resized, ...present] = Object.keys(sizes);
      assert.ok(present.length > 2, 'the sample needs several blobs');
      await putBlobs(h.stack.s3, h.stack.names.backupBucket, 'vaultik/blobs/', {
        ...Object.fromEntries(present.map((hash) => [hash, sizes[hash]])),
        [resized]: sizes[resized] + 1,
      });
      await h.upload(`incoming/web1/${id}.db`, bytes);
      const receipt = await h.waitForReceipt(`processed/web1/${id}.json`, 20_000);
      assert.equal(receipt.status, 'published');
      const check = receipt.blobs_check as BlobCheck;
      assert.equal(check.checked, Object.keys(sizes).length);
      assert.deepEqual([check.missing, check.missingSample], [1, [gone]]);
      assert.deepEqual([check.sizeMismatches, check.mismatchSample], [1, [{ blob: resized, expected: sizes[resized], found: sizes[resized] + 1 }]]);
      // The receipt is written before the handler flushes its metrics.
      await waitFor(() => h.emf.count('MissingBlobs') > 0, 10_000, 'the MissingBlobs metric');
      assert.equal(h.emf.count('MissingBlobs'), 2, 'one missing, one of another size');
    } finally {
      await h.close();
    }
  });

  it('every method finds the same blobs; the cheapest is chosen by its count of requests', async () => {
    const server = await startLocalAwsServer();
    const s3 = createS3Client(localConnection(server.endpoint));
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'b' }));
      const stored = Object.fromEntries(Array.from({ length: 3000 }, (_, n) => [fakeHash(n), 10 + (n % 7)]));
      await putBlobs(s3, 'b', 'blobs/', stored);
      const wanted = [...Object.keys(stored).slice(0, 600), fakeHash(999_999)];
      const results = new Map<string, BlobCheck>();
      for (const method of ['head', 'list-shards', 'list-top', undefined] as const) {
        const check = await checkBlobs({ s3, bucket: 'b', blobPrefix: 'blobs/', blobs: wanted, sizes: stored, method });
        results.set(method ?? 'chosen', check);
        assert.deepEqual([check.checked, check.missing, check.missingSample, check.sizeMismatches], [601, 1, [fakeHash(999_999)], 0], method);
      }
      assert.equal(results.get('head')!.requests, 601);
      const chosen = results.get('chosen')!;
      assert.equal(chosen.requests, Math.min(...[...results.values()].map((r) => r.requests)), `chose ${chosen.method}`);
      assert.equal(chosen.method, 'list-top', '3000 blobs fill 256 top-level shards with one page each');
    } finally {
      s3.destroy();
      await server.close();
    }
  });
});
