// The staged upload in S3: its HEAD, its bytes (pinned to that HEAD's version),
// and its deletion once the export is safely written.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { readHashed } from '../codecs/hash.ts';
import { isConditionFailed, isNotFound, unlessNotFound } from '../stores/s3-store.ts';
import { UPLOAD_ID_METADATA, type Receipt } from './receipts.ts';

export type StagedHead = HeadObjectCommandOutput;

export function headStaged(s3: S3Client, bucket: string, key: string, versionId: string | undefined, signal?: AbortSignal) {
  return unlessNotFound(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), { abortSignal: signal }));
}

export function describeSource(head: HeadObjectCommandOutput): Partial<Receipt['source']> {
  return {
    size: head.ContentLength,
    etag: head.ETag?.replace(/^"|"$/g, ''),
    version_id: head.VersionId,
    last_modified: head.LastModified?.toISOString(),
    upload_id: head.Metadata?.[UPLOAD_ID_METADATA],
  };
}

/**
 * The object into one buffer of its announced size (no doubling while it
 * grows), pinned to the version we checked the size of: if the object is
 * replaced meanwhile, If-Match fails and the message is simply retried.
 */
export async function download(s3: S3Client, bucket: string, key: string, head: HeadObjectCommandOutput, signal?: AbortSignal): Promise<{ bytes: Buffer; sha256: string } | undefined> {
  const size = head.ContentLength ?? 0;
  const out = await unlessNotFound(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: head.VersionId, IfMatch: head.ETag }), { abortSignal: signal }));
  // Deleted between HEAD and GET: a concurrent delivery exported it.
  if (!out) return undefined;
  const body = (out.Body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  let rest: Uint8Array = new Uint8Array(0);
  const readAt = async (into: Buffer, offset: number) => {
    if (rest.byteLength === 0) {
      const next = await body.next();
      if (next.done) return 0;
      rest = next.value;
    }
    const placed = Math.min(rest.byteLength, into.byteLength - offset);
    into.set(rest.subarray(0, placed), offset);
    rest = rest.subarray(placed);
    return placed;
  };
  const downloaded = await readHashed(size, readAt, key);
  if (rest.byteLength > 0 || !(await body.next()).done) throw new Error(`${key} is longer than the ${size} bytes its HEAD announced`);
  return downloaded;
}

/**
 * Deletes exactly the object that was exported: by version where the bucket
 * keeps versions, else only while its ETag is unchanged. A newer upload to the
 * same key has its own event coming and must not be lost.
 */
export async function deleteStaged(s3: S3Client, bucket: string, key: string, head: HeadObjectCommandOutput, log: { info(message: string): void } | undefined, signal?: AbortSignal): Promise<void> {
  const condition = head.VersionId ? { VersionId: head.VersionId } : { IfMatch: head.ETag };
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, ...condition }), { abortSignal: signal });
  } catch (err) {
    if (!isConditionFailed(err) && !isNotFound(err)) throw err;
    log?.info('staged upload kept: it was replaced or removed after this export read it');
  }
}
