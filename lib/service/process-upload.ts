// One staged upload, start to finish, with no Lambda in sight: the handler and
// the local stack's emulator both run exactly this.
import type { S3Client } from '@aws-sdk/client-s3';
import { SnapmetaError, isSnapmetaError } from '../core/errors.ts';
import { publishExport, type PublishResult } from '../pipeline/publish.ts';
import { ExportStopped, sharedExportWorkers, type ExportWorkers } from '../pipeline/worker-export.ts';
import { S3MetadataStore } from '../stores/s3-store.ts';
import { decodeEventKey, defaultBlobPrefix, parseStagingKey, receiptKey, type KeyScheme, type StagingKey } from '../core/keys.ts';
import { checkBlobs } from './blob-check.ts';
import type { DbFormat } from '../core/manifest.ts';
import { checkOwnership } from '../core/snapshot-id.ts';
import { redactSecrets } from '../core/secrets.ts';
import { GENERATOR } from '../core/version.ts';
import { putReceipt, type Receipt } from './receipts.ts';
import { deleteStaged, describeSource, download, headStaged, type StagedHead } from './staged-object.ts';
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

/**
 * One staged upload, start to finish: fetch it, export it, publish it, write
 * its receipt, delete it. A SnapmetaError is the upload's fault (a rejection
 * receipt, the upload kept); any other error is transient and thrown, so the
 * message is retried.
 */
export async function processUpload(ref: StagedObjectRef, deps: ProcessUploadDeps): Promise<UploadOutcome> {
  const upload = new StagedUpload(ref, deps);
  try {
    const staged = upload.parseKey();
    if (!staged) return { status: 'ignored', key: upload.source.key };
    const fetched = await upload.fetch();
    if (!fetched) return { status: 'gone', key: upload.source.key };
    const exported = await upload.export(staged, fetched.bytes, fetched.maxIndexBytes);
    return await upload.finish(staged, fetched.head, exported);
  } catch (err) {
    const rejection = isSnapmetaError(err) ? err : timedOut(err, deps.receiveCount ?? 1);
    if (!rejection) throw err;
    return upload.reject(rejection);
  }
}

/** An upload on its way: where it is, what is known of it so far, and how long each stage took. */
class StagedUpload {
  private readonly started = performance.now();
  private readonly timings: Record<string, number> = {};
  // Receipts and logs show the key with anything like a private key redacted; S3 gets the real one.
  private key: string;
  readonly source: Receipt['source'];
  private staged: StagingKey | undefined;

  constructor(private readonly ref: StagedObjectRef, private readonly deps: ProcessUploadDeps) {
    this.key = ref.encodedKey;
    this.source = { bucket: ref.bucket, key: redactSecrets(this.key), version_id: ref.versionId };
  }

  /** Its host and snapshot; undefined outside incoming/. */
  parseKey(): StagingKey | undefined {
    this.key = decodeEventKey(this.ref.encodedKey);
    this.source.key = redactSecrets(this.key);
    this.deps.log?.appendKeys({ key: this.source.key });
    this.staged = parseStagingKey(this.key);
    if (this.staged) this.deps.log?.appendKeys({ host: this.staged.host, snapshotId: this.staged.snapshotId });
    return this.staged;
  }

  /** Its bytes and hash, once its size is known to fit; undefined when it is gone. */
  async fetch() {
    const { s3, config, signal } = this.deps;
    const head = await headStaged(s3, this.ref.bucket, this.key, this.ref.versionId, signal);
    if (!head) return undefined;
    Object.assign(this.source, describeSource(head));
    const maxIndexBytes = checkSize(head.ContentLength ?? 0, config);
    const started = performance.now();
    const downloaded = await download(s3, this.ref.bucket, this.key, head, signal);
    if (!downloaded) return undefined;
    this.source.sha256 = downloaded.sha256;
    this.timings.download = performance.now() - started;
    return { head, bytes: downloaded.bytes, maxIndexBytes };
  }

  /** Opened in a worker (the bytes move there), checked for ownership, published, its blobs looked for. */
  async export(staged: StagingKey, bytes: Buffer, maxIndexBytes: number) {
    const { s3, config, signal } = this.deps;
    const workers = this.deps.workers ?? sharedExportWorkers(workerSettings(config));
    const job = await workers.open(bytes, { snapshotId: staged.snapshotId, maxIndexBytes, signal });
    let result: PublishResult;
    try {
      // Here for a rejection's receipt; publishing's own timings include them.
      Object.assign(this.timings, job.timings);
      checkOwnership(staged, job.snapshot, config.allowUnnamedIds ?? false);
      result = await publishExport(job, new S3MetadataStore(s3, config.backupBucket, { signal }), {
        recipients: config.recipients,
        prefix: config.backupPrefix,
        format: config.format,
        keyScheme: config.keyScheme,
        source: { sha256: this.source.sha256!, size: this.source.size ?? 0, key: this.key, etag: this.source.etag, versionId: this.source.version_id },
        signal,
      });
    } catch (err) {
      // The store reports the deadline as its own abort; the worker knows whether it was busy then.
      throw job.stopped() ?? err;
    } finally {
      job.close();
    }
    Object.assign(this.timings, result.timings);
    const blobs = config.checkBlobs === false ? undefined : await blobsCheckOf(s3, config, { hashes: job.blobs, sizes: job.blobSizes }, signal);
    return { result, blobs };
  }

  /** The receipt, then, and only then, the staged upload deleted. */
  async finish(staged: StagingKey, head: StagedHead, { result, blobs }: { result: PublishResult; blobs: Receipt['blobs_check'] }): Promise<UploadOutcome> {
    const { s3, config, signal, log } = this.deps;
    const done = this.receipt({
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
      blobs_check: blobs,
    });
    const processedKey = receiptKey('processed', staged);
    await putReceipt(s3, this.ref.bucket, processedKey, done, signal);
    if (config.deleteStaged) await deleteStaged(s3, this.ref.bucket, this.key, head, log, signal);
    return { status: result.status, receiptKey: processedKey, receipt: done, result, durationMs: performance.now() - this.started };
  }

  /** A rejection receipt (named by the key's hash when the key names no host); the upload is kept. */
  async reject(error: SnapmetaError): Promise<UploadOutcome> {
    const rejected = this.receipt({ status: 'rejected', error: { code: error.code, message: error.message } });
    const rejectedKey = receiptKey('rejected', this.staged ?? { key: this.key });
    await putReceipt(this.deps.s3, this.ref.bucket, rejectedKey, rejected, this.deps.receiptSignal ?? this.deps.signal);
    return { status: 'rejected', receiptKey: rejectedKey, receipt: rejected, error, durationMs: performance.now() - this.started };
  }

  private receipt(fields: Partial<Receipt> & Pick<Receipt, 'status'>): Receipt {
    return {
      receipt_version: 1,
      host: this.staged?.host,
      snapshot_id: this.staged?.snapshotId,
      source: this.source,
      ...fields,
      timings_ms: Object.fromEntries(Object.entries(this.timings).map(([stage, ms]) => [stage, Math.round(ms)])),
      processed_at: new Date().toISOString(),
      generator: GENERATOR,
    };
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
  const blobPrefix = config.blobPrefix ?? defaultBlobPrefix(config.backupPrefix);
  try {
    return await checkBlobs({ s3, bucket: config.backupBucket, blobPrefix, blobs: blobs.hashes, sizes: blobs.sizes, signal });
  } catch (err) {
    signal?.throwIfAborted();
    return { error: `the blobs could not be checked: ${(err as Error).message}` };
  }
}

