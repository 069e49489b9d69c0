// Blobs of given sizes put into a bucket under vaultik's sharded keys, 64 at a time.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { blobKey } from '../../../lib/core/keys.ts';

export async function putBlobs(s3: S3Client, bucket: string, prefix: string, sizes: Record<string, number>): Promise<void> {
  const hashes = Object.keys(sizes);
  for (let at = 0; at < hashes.length; at += 64) {
    await Promise.all(hashes.slice(at, at + 64).map((hash) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: blobKey(prefix, hash).key, Body: new Uint8Array(sizes[hash]) }))));
  }
}
