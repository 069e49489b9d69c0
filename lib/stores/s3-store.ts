// MetadataStore over an S3 bucket. Write-once comes from S3 itself
// (If-None-Match: *), not from a check-then-write that two writers could race.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { MetadataStore, StoredObjectInfo } from './store.ts';

export interface S3StoreOptions {
  /** Aborts every request in flight (e.g. at the Lambda deadline). */
  signal?: AbortSignal;
  /** Bodies larger than this go up as multipart, in parts of this size (S3's minimum: 5 MiB). */
  partSize?: number;
}

export class S3MetadataStore implements MetadataStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly options: S3StoreOptions = {},
  ) {}

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    const out = await unlessNotFound(this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), this.sendOptions()));
    return out && { size: out.ContentLength ?? 0, metadata: out.Metadata ?? {} };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const body = await this.body(key);
    return body?.transformToByteArray();
  }

  async getStream(key: string): Promise<ReadableStream<Uint8Array> | undefined> {
    const body = await this.body(key);
    return body?.transformToWebStream() as ReadableStream<Uint8Array> | undefined;
  }

  /** An object's body, not yet read; undefined when there is no object. */
  private async body(key: string) {
    const out = await unlessNotFound(this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), this.sendOptions()));
    return out?.Body;
  }

  async putIfAbsent(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array,
    options: { contentType: string; metadata?: Record<string, string> },
  ): Promise<'written' | 'exists'> {
    // lib-storage sends a small body as one PutObject and a large one as a
    // multipart upload; either way it copies IfNoneMatch onto the request that
    // creates the object (PutObject or CompleteMultipartUpload).
    const abortController = new AbortController();
    const { signal } = this.options;
    const onAbort = () => abortController.abort(signal?.reason);
    signal?.throwIfAborted();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await new Upload({
        client: this.s3,
        abortController,
        partSize: this.options.partSize,
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          Metadata: options.metadata,
          IfNoneMatch: '*',
        },
      }).done();
      return 'written';
    } catch (err) {
      if (isConditionFailed(err)) return 'exists';
      // lib-storage reports an abort as its own "Upload aborted."; callers want the reason.
      signal?.throwIfAborted();
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private sendOptions() {
    return { abortSignal: this.options.signal };
  }
}

interface S3ErrorShape {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

export function isNotFound(err: unknown): boolean {
  const e = err as S3ErrorShape;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** A request's answer, or undefined when S3 says the object (or version) is not there. */
export async function unlessNotFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * A conditional request S3 refused: 412 PreconditionFailed (If-None-Match: an
 * object is already there; If-Match: the object changed) or 409
 * ConditionalRequestConflict (another conditional write to the key is in
 * flight, and S3 lets only one of them win).
 */
export function isConditionFailed(err: unknown): boolean {
  const e = err as S3ErrorShape;
  return e?.name === 'PreconditionFailed' || e?.name === 'ConditionalRequestConflict' || e?.$metadata?.httpStatusCode === 412;
}
