// npm run bench:blobs: what the blob existence check costs on the local stack's
// S3 server (fauxqs over HTTP), by method, in requests and time. The bucket holds
// --stored blobs under vaultik's layout; a snapshot needs --needed of them, one
// missing. The service picks the method with the fewest requests.
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { blobKey } from '../lib/core/keys.ts';
import { createS3Client, localConnection } from '../lib/service/aws-clients.ts';
import { checkBlobs, type BlobCheck } from '../lib/service/blob-check.ts';
import { startLocalAwsServer } from '../local/fauxqs-server.ts';

const METHODS = ['head', 'list-shards', 'list-top'] as const;

// Content hashes spread evenly over the shards, as real ones do.
const hashOf = (n: number) => createHash('sha256').update(`blob-${n}`).digest('hex');

async function fill(s3: S3Client, bucket: string, count: number): Promise<string[]> {
  const hashes = Array.from({ length: count }, (_, n) => hashOf(n));
  for (let at = 0; at < hashes.length; at += 256) {
    await Promise.all(hashes.slice(at, at + 256).map((hash) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: blobKey('blobs/', hash).key, Body: new Uint8Array(16) }))));
  }
  return hashes;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { stored: { type: 'string', default: '10000,100000' }, needed: { type: 'string', default: '' } } });
  const server = await startLocalAwsServer();
  const s3 = createS3Client(localConnection(server.endpoint));
  try {
    console.log('| blobs stored | blobs needed | method | requests | time | chosen |');
    console.log('|---|---|---|---|---|---|');
    for (const stored of values.stored.split(',').map(Number)) {
      const bucket = `bench-${stored}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const hashes = await fill(s3, bucket, stored);
      const neededCounts = values.needed ? values.needed.split(',').map(Number) : [stored, Math.round(stored / 10)];
      for (const needed of neededCounts) {
        const wanted = [...hashes.slice(0, needed - 1), hashOf(stored + 1)];
        const chosen = await checkBlobs({ s3, bucket, blobPrefix: 'blobs/', blobs: wanted });
        for (const method of METHODS) {
          const check: BlobCheck = method === chosen.method ? chosen : await checkBlobs({ s3, bucket, blobPrefix: 'blobs/', blobs: wanted, method });
          if (check.missing !== 1) throw new Error(`${method} found ${check.missing} missing, expected 1`);
          console.log(`| ${stored} | ${needed} | ${method} | ${check.requests} | ${(check.durationMs / 1000).toFixed(2)} s | ${method === chosen.method ? 'yes' : ''} |`);
        }
      }
    }
  } finally {
    s3.destroy();
    await server.close();
  }
}

await main();
