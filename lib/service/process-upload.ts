// One staged upload, start to finish, with no Lambda in sight: the handler and
// the local stack's emulator both run exactly this. A SnapmetaError anywhere is
// the upload's fault: it gets a rejection receipt and is kept for inspection.
// Any other error is transient and propagates, so the message is retried.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { readHashed } from '../codecs/hash.ts';
import { SnapmetaError, isSnapmetaError } from '../core/errors.ts';
import { publishExport, type PublishResult } from '../pipeline/publish.ts';
import { ExportStopped, sharedExportWorkers, type ExportWorkers } from '../pipeline/worker-export.ts';
import { S3MetadataStore, isConditionFailed, isNotFound } from '../stores/s3-store.ts';
import { BLOBS_PREFIX, decodeEventKey, parseStagingKey, receiptKey, type KeyScheme, type StagingKey } from '../core/keys.ts';
import { checkBlobs } from './blob-check.ts';
import type { DbFormat } from '../core/manifest.ts';
import { claimedHost, idOfHost, namesAHost, shortHostName } from '../core/snapshot-id.ts';
import { redactSecrets } from '../core/secrets.ts';
import { GENERATOR } from '../core/version.ts';
import { putReceipt, type Receipt, UPLOAD_ID_METADATA } from './receipts.ts';
import { largestIndexFor, memoryMbFor, sqliteHeapLimit } from './memory.ts';
import { QUEUE } from './settings.ts';

export interface ProcessUploadConfig {
  backupBucket: string;
  /** '' or ending in '/'. */
  backupPrefix: string;
  recipients: string[];
  deleteStaged: boolean;
  maxIndexBytes: number;
  /** What db.zst.age holds: SQL text (default) or a SQLite image. */
  format?: DbFormat;
  /** How metadata folders are named: by snapshot id (default) or by its hash. */
  keyScheme?: KeyScheme;
  /** Publish ids that name no host (a bare timestamp, a UUID): for a one-host deployment only. */
  allowUnnamedIds?: boolean;
  /** Check that every blob an export names exists (default true), under this prefix (default `<backupPrefix>blobs/`). */
  checkBlobs?: boolean;
  blobPrefix?: string;
  /** The memory the export runs in (AWS_LAMBDA_FUNCTION_MEMORY_SIZE): indexes it cannot hold are refused before download. */
  functionMemoryMb?: number;
}

/** An object as an S3 event notification names it. */
export interface StagedObjectRef {
  bucket: string;
  /** URL-encoded, '+' for a space, exactly as in the event. */
  encodedKey: string;
  versionId?: string;
}

/** What processUpload needs to log; Powertools' Logger fits. */
export interface UploadLog {
  appendKeys(keys: Record<string, unknown>): void;
  info(message: string): void;
}

export interface ProcessUploadDeps {
  s3: S3Client;
  config: ProcessUploadConfig;
  /** Aborts all work (e.g. before the Lambda deadline); the error is then transient. */
  signal?: AbortSignal;
  /** Aborts writing a rejection receipt: later than `signal`, so a stopped export still gets its receipt. */
  receiptSignal?: AbortSignal;
  /** SQS's ApproximateReceiveCount: from QUEUE.timeoutReceiptFromReceive, a deadline in a CPU-bound stage is EXPORT_TIMEOUT. */
  receiveCount?: number;
  /** Where exports run (default: the process's workers for this config's memory). */
  workers?: ExportWorkers;
  log?: UploadLog;
}

export type UploadOutcome =
  /** Not a staged upload (outside incoming/): nothing to do. */
  | { status: 'ignored'; key: string }
  /** The object is gone (processed and deleted by an earlier delivery, or removed): nothing to do. */
  | { status: 'gone'; key: string }
  | { status: 'published' | 'duplicate'; receiptKey: string; receipt: Receipt; result: PublishResult; durationMs: number }
  | { status: 'rejected'; receiptKey: string; receipt: Receipt; error: SnapmetaError; durationMs: number };

export async function processUpload(ref: StagedObjectRef, deps: ProcessUploadDeps): Promise<UploadOutcome> {
  const { s3, config, signal, log } = deps;
  const started = performance.now();
  const timings: Record<string, number> = {};
  // Receipts and logs show the key with anything like a private key redacted; S3 gets the real one.
  let key = ref.encodedKey;
  const source: Receipt['source'] = { bucket: ref.bucket, key: redactSecrets(key), version_id: ref.versionId };
  let staged: StagingKey | undefined;
  const receipt = (fields: Partial<Receipt> & Pick<Receipt, 'status'>): Receipt => ({
    receipt_version: 1,
    host: staged?.host,
    snapshot_id: staged?.snapshotId,
    source,
    ...fields,
    timings_ms: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
    processed_at: new Date().toISOString(),
    generator: GENERATOR,
  });

  try {
    key = decodeEventKey(ref.encodedKey);
    source.key = redactSecrets(key);
    log?.appendKeys({ key: source.key });
    staged = parseStagingKey(key);
    if (!staged) return { status: 'ignored', key: source.key };
    log?.appendKeys({ host: staged.host, snapshotId: staged.snapshotId });

    const head = await headStaged(s3, ref.bucket, key, ref.versionId, signal);
    if (!head) return { status: 'gone', key: source.key };
    Object.assign(source, describeSource(head));
    const size = head.ContentLength ?? 0;
    const maxIndexBytes = checkSize(size, config);

    const t = performance.now();
    const downloaded = await download(s3, ref.bucket, key, head, signal);
    if (!downloaded) return { status: 'gone', key: source.key };
    source.sha256 = downloaded.sha256;
    timings.download = performance.now() - t;

    // The download moves to the worker: this thread no longer holds it.
    const workers = deps.workers ?? sharedExportWorkers(workerSettings(config));
    const job = await workers.open(downloaded.bytes, { snapshotId: staged.snapshotId, maxIndexBytes, signal });
    let result: PublishResult;
    let blobs: { hashes: string[]; sizes?: Record<string, number> };
    try {
      // Here for a rejection's receipt; publishing's own timings include them.
      Object.assign(timings, job.timings);
      checkOwnership(staged, job.snapshot, config.allowUnnamedIds ?? false);
      result = await publishExport(job, new S3MetadataStore(s3, config.backupBucket, { signal }), {
        recipients: config.recipients,
        prefix: config.backupPrefix,
        format: config.format,
        keyScheme: config.keyScheme,
        source: { sha256: source.sha256, size, key, etag: source.etag, versionId: source.version_id },
        signal,
      });
      blobs = { hashes: job.blobs, sizes: job.blobSizes };
    } catch (err) {
      // The store reports the deadline as its own abort; the worker knows whether it was busy then.
      throw job.stopped() ?? err;
    } finally {
      job.close();
    }
    Object.assign(timings, result.timings);
    const blobsCheck = config.checkBlobs === false ? undefined : await blobsCheckOf(s3, config, blobs, signal);

    const done = receipt({
      status: result.status,
      outputs: {
        bucket: config.backupBucket,
        key_scheme: result.keyScheme,
        metadata_key: result.metadataKey,
        db: { key: result.dbKey, ...result.db },
        manifest: { key: result.manifestKey, size: result.manifestSize },
      },
      layout: result.layout,
      rows: result.rows,
      blob_count: result.blobCount,
      skipped_tables: result.skippedTables,
      warnings: result.warnings,
      bytes_in: result.bytesIn,
      bytes_out: result.bytesOut,
      blobs_check: blobsCheck,
    });
    const processedKey = receiptKey('processed', staged);
    await putReceipt(s3, ref.bucket, processedKey, done, signal);
    // Only now is the upload safe to drop: outputs and receipt are both written.
    if (config.deleteStaged) await deleteStaged(s3, ref.bucket, key, head, log, signal);
    return { status: result.status, receiptKey: processedKey, receipt: done, result, durationMs: performance.now() - started };
  } catch (err) {
    const rejection = isSnapmetaError(err) ? err : timedOut(err, deps.receiveCount ?? 1);
    if (!rejection) throw err;
    const rejected = receipt({ status: 'rejected', error: { code: rejection.code, message: rejection.message } });
    const rejectedKey = receiptKey('rejected', staged ?? { key });
    await putReceipt(s3, ref.bucket, rejectedKey, rejected, deps.receiptSignal ?? signal);
    return { status: 'rejected', receiptKey: rejectedKey, receipt: rejected, error: rejection, durationMs: performance.now() - started };
  }
}

/** The worker settings of a function: SQLite's heap bounded by the memory left beside the largest index. */
export function workerSettings(config: ProcessUploadConfig) {
  const memory = config.functionMemoryMb;
  return memory ? { heapLimitBytes: sqliteHeapLimit(memory, config.maxIndexBytes) } : {};
}

/**
 * The largest index this upload may inflate to: the deployment's limit, and
 * what the function's memory holds by the bench's model. Refused from the
 * HEAD's size, before anything is downloaded.
 */
function checkSize(size: number, config: ProcessUploadConfig): number {
  const byMemory = config.functionMemoryMb ? largestIndexFor(config.functionMemoryMb) : Infinity;
  if (size > config.maxIndexBytes) {
    throw new SnapmetaError('INDEX_TOO_LARGE', `the upload is ${size} bytes, over the limit of ${config.maxIndexBytes} (SNAPMETA_MAX_INDEX_BYTES)`);
  }
  if (size > byMemory) {
    throw new SnapmetaError('INDEX_TOO_LARGE', `the upload is ${size} bytes; a function of ${config.functionMemoryMb} MB holds indexes up to ${byMemory} bytes (an export needs about 1.3 × the index + 256 MiB): give it ${memoryMbFor(size)} MB or more (memoryMb), or upload a smaller index`);
  }
  return Math.min(config.maxIndexBytes, byMemory);
}

/**
 * The deadline stopped a CPU-bound stage. The same bytes take the same time,
 * so only the first receive is retried (a cold or busy function may simply
 * have been slow); from QUEUE.timeoutReceiptFromReceive on, it is the upload's
 * answer, with the upload kept.
 */
function timedOut(err: unknown, receiveCount: number): SnapmetaError | undefined {
  if (!(err instanceof ExportStopped) || receiveCount < QUEUE.timeoutReceiptFromReceive) return undefined;
  const ran = `${(err.stageMs / 1000).toFixed(1)} s`;
  return new SnapmetaError(
    'EXPORT_TIMEOUT',
    `the export did not finish in time: its ${err.stage} stage ran ${ran} before the deadline stopped it, on receive ${receiveCount} (an earlier receive failed too, so not a one-off slow start). Give the function more memory, which also brings more CPU, or a longer timeout (memoryMb, timeoutSeconds), or upload a smaller index; the upload is kept, and once the function is larger, snapmeta redrive --code EXPORT_TIMEOUT exports it again`,
    { cause: err },
  );
}

/**
 * The published export's blobs, looked for in the backup bucket. A failure to
 * look (S3 refusing the listing) is reported in the receipt rather than
 * retried: the export itself is published and correct. The deadline still stops it.
 */
async function blobsCheckOf(s3: S3Client, config: ProcessUploadConfig, blobs: { hashes: string[]; sizes?: Record<string, number> }, signal?: AbortSignal): Promise<Receipt['blobs_check']> {
  const blobPrefix = config.blobPrefix ?? `${config.backupPrefix}${BLOBS_PREFIX}`;
  try {
    return await checkBlobs({ s3, bucket: config.backupBucket, blobPrefix, blobs: blobs.hashes, sizes: blobs.sizes, signal });
  } catch (err) {
    signal?.throwIfAborted();
    return { error: `the blobs could not be checked: ${(err as Error).message}` };
  }
}

/**
 * Hosts publish only their own snapshots: the snapshot was taken on the key's
 * host (its full or short name), and its id names that host too, so no host
 * can claim, and with write-once metadata block for ever, another host's id.
 */
function checkOwnership(staged: StagingKey, snapshot: { id: string; hostname: string }, allowUnnamed: boolean): void {
  const { id, hostname } = snapshot;
  if (id !== staged.snapshotId) {
    throw new SnapmetaError('SNAPSHOT_MISMATCH', `the key names snapshot ${JSON.stringify(staged.snapshotId)} but the database holds ${JSON.stringify(id)}`);
  }
  if (hostname !== staged.host && shortHostName(hostname) !== staged.host) {
    throw new SnapmetaError(
      'HOST_MISMATCH',
      `snapshot ${JSON.stringify(id)} was taken on ${JSON.stringify(hostname)}, which is not host ${JSON.stringify(staged.host)} of the upload key`,
    );
  }
  if (idOfHost(id, hostname)) return;
  if (namesAHost(id)) {
    throw new SnapmetaError('HOST_MISMATCH', `snapshot id ${JSON.stringify(id)} names host ${JSON.stringify(claimedHost(id))}, not ${JSON.stringify(shortHostName(hostname))} (${hostname}) of this upload`);
  }
  if (!allowUnnamed) {
    throw new SnapmetaError('UNNAMED_SNAPSHOT_ID', `snapshot id ${JSON.stringify(id)} names no host: expected ${shortHostName(hostname)}_<name>_<RFC 3339 UTC time>, ${hostname}_<time> or ${shortHostName(hostname)}-YYYYMMDD-HHMMSSZ; a deployment with one host may publish such ids with SNAPMETA_ALLOW_UNNAMED_IDS=true`);
  }
}

async function headStaged(s3: S3Client, bucket: string, key: string, versionId: string | undefined, signal?: AbortSignal) {
  try {
    return await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), { abortSignal: signal });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function describeSource(head: HeadObjectCommandOutput): Partial<Receipt['source']> {
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
async function download(s3: S3Client, bucket: string, key: string, head: HeadObjectCommandOutput, signal?: AbortSignal): Promise<{ bytes: Buffer; sha256: string } | undefined> {
  const size = head.ContentLength ?? 0;
  let out;
  try {
    out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: head.VersionId, IfMatch: head.ETag }), { abortSignal: signal });
  } catch (err) {
    // Deleted between HEAD and GET: a concurrent delivery exported it.
    if (isNotFound(err)) return undefined;
    throw err;
  }
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
async function deleteStaged(s3: S3Client, bucket: string, key: string, head: HeadObjectCommandOutput, log: UploadLog | undefined, signal?: AbortSignal): Promise<void> {
  const condition = head.VersionId ? { VersionId: head.VersionId } : { IfMatch: head.ETag };
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, ...condition }), { abortSignal: signal });
  } catch (err) {
    if (!isConditionFailed(err) && !isNotFound(err)) throw err;
    log?.info('staged upload kept: it was replaced or removed after this export read it');
  }
}
