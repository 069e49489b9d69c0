// Receipts: the outcome of one staged upload, written beside it in the staging
// bucket (processed/<host>/<id>.json or rejected/…), which is how an agent learns
// what became of its upload.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ErrorCode } from '../core/errors.ts';
import type { KeyScheme } from '../core/keys.ts';
import type { DbFormat } from '../core/manifest.ts';
import type { BlobCheck } from './blob-check.ts';
import type { MetadataStore } from '../stores/store.ts';

/** Agents tag an upload with this user metadata to find its receipt. */
export const UPLOAD_ID_METADATA = 'snapmeta-upload-id';

export interface Receipt {
  receipt_version: 1;
  status: 'published' | 'duplicate' | 'rejected';
  error?: { code: ErrorCode; message: string };
  host?: string;
  snapshot_id?: string;
  source: {
    bucket: string;
    key: string;
    size?: number;
    etag?: string;
    version_id?: string;
    last_modified?: string;
    upload_id?: string;
    sha256?: string;
  };
  outputs?: {
    bucket: string;
    key_scheme: KeyScheme;
    /** The metadata folder's name: the snapshot id, or under the hashed scheme its hash. */
    metadata_key: string;
    db: { key: string; format: DbFormat; size: number; sha256: string };
    manifest: { key: string; size: number };
  };
  layout?: string;
  rows?: Record<string, number>;
  blob_count?: number;
  skipped_tables?: string[];
  warnings?: string[];
  bytes_in?: number;
  bytes_out?: number;
  /** Whether the export's blobs exist in the backup bucket (lib/service/blob-check.ts). */
  blobs_check?: BlobCheck | { error: string };
  /** Milliseconds per stage: download, load, prune, dump, compress, encrypt, write. */
  timings_ms: Record<string, number>;
  processed_at: string;
  generator: string;
}

/** A receipt from the staging bucket, or undefined while there is none. */
export const readReceipt = (staging: MetadataStore, key: string) => readStagingJson<Receipt>(staging, key);

/** Receipts are overwritten: the latest upload's outcome is the one an agent waits for. */
export const putReceipt = (s3: S3Client, bucket: string, key: string, receipt: Receipt, signal?: AbortSignal) =>
  putStagingJson(s3, bucket, key, receipt, signal);

/** A JSON object the function wrote in the staging bucket (a receipt, a failure note), or undefined while there is none. */
export async function readStagingJson<T>(staging: MetadataStore, key: string): Promise<T | undefined> {
  const bytes = await staging.get(key);
  return bytes && (JSON.parse(Buffer.from(bytes).toString('utf8')) as T);
}

/** Writes (or overwrites) a JSON object in the staging bucket, indented for an operator's eyes. */
export async function putStagingJson(s3: S3Client, bucket: string, key: string, value: object, signal?: AbortSignal): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(value, null, 2)}\n`, ContentType: 'application/json' }),
    { abortSignal: signal },
  );
}
