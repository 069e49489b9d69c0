// snapmeta upload <index.db> --host <host> --snapshot <id>: what an agent does
// after a backup. Uploads the index to the staging bucket (multipart when large,
// zstd on request), tagged with a fresh upload id, then waits for the receipt
// that carries the same id, so an older receipt for the snapshot never answers.
import { randomUUID } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SnapmetaError } from '../lib/core/errors.ts';
import { UPLOAD_ID_METADATA, readReceipt, type Receipt } from '../lib/service/receipts.ts';
import { ENDPOINT_HELP, s3For, unreachable } from './aws.ts';
import { BUCKET_HELP, stagingBucket } from './staging.ts';
import { S3MetadataStore } from '../lib/stores/s3-store.ts';
import { parseStagingKey, receiptKey, stagingKey, type StagingKey } from '../lib/core/keys.ts';
import { compressFrame } from '../lib/codecs/zstd.ts';
import { formatBytes, formatMs, table } from './report.ts';
import { parseCommand, required, wholeNumber, type CommandSpec, type Options } from './args.ts';

const HELP = `usage: snapmeta upload <index.db> --host <host> --snapshot <id> [--endpoint <url>] [--bucket <name>]
                       [--compress] [--level <n>] [--timeout <seconds>] [--no-wait]

Uploads the index to s3://<bucket>/incoming/<host>/<id>.db (.db.zst with --compress),
then waits for its receipt (processed/… or rejected/…) and prints it.
${BUCKET_HELP}
${ENDPOINT_HELP}
  --compress           zstd-compress while uploading (level --level, default 3)
  --timeout <seconds>  how long to wait for the receipt (default 900)
  --no-wait            upload only
Exit status: 0 published (or already published from the same bytes), 1 rejected,
3 no receipt within the timeout.`;

export const EXIT_REJECTED = 1;
export const EXIT_NO_RECEIPT = 3;

// Large enough that a 10 000-part multipart upload holds 80 GiB, small enough to
// stay well inside what the local stack's server accepts per request.
const PART_SIZE = 8 * 1024 * 1024;

const SPEC = {
  name: 'upload',
  help: HELP,
  positionals: ['<index.db>'],
  options: {
    host: { type: 'string' },
    snapshot: { type: 'string' },
    endpoint: { type: 'string' },
    bucket: { type: 'string' },
    compress: { type: 'boolean', default: false },
    level: { type: 'string', default: '3' },
    timeout: { type: 'string', default: '900' },
    'no-wait': { type: 'boolean', default: false },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values, positionals } = args;
  const host = required(values.host, '--host <host>');
  const snapshotId = required(values.snapshot, '--snapshot <id>');
  const level = wholeNumber('--level', values.level, 1, 19);
  const timeoutMs = wholeNumber('--timeout', values.timeout, 1, 86_400) * 1000;
  const bucket = stagingBucket(values.bucket, values.endpoint);
  const staged = parseStagingKey(stagingKey(host, snapshotId, values.compress))!;

  const s3 = s3For(values.endpoint);
  try {
    const uploaded = await uploadIndex(s3, { file: positionals[0], bucket, staged, level }).catch((err: NodeJS.ErrnoException) => {
      throw unreachable(err, values.endpoint);
    });
    console.log(`uploaded ${positionals[0]} to s3://${bucket}/${staged.key} (${formatBytes(uploaded.size)}, upload id ${uploaded.uploadId})`);
    if (values['no-wait']) return 0;
    console.log('waiting for the receipt…');
    const found = await waitForReceipt(s3, { bucket, staged, uploadId: uploaded.uploadId, timeoutMs });
    if (!found) {
      console.error(`no receipt for upload ${uploaded.uploadId} after ${formatMs(timeoutMs)}; it may still be queued (look in s3://${bucket}/processed/ and rejected/)`);
      return EXIT_NO_RECEIPT;
    }
    console.log(describeReceipt(found.key, found.receipt));
    console.log(JSON.stringify(found.receipt, null, 2));
    return found.receipt.status === 'rejected' ? EXIT_REJECTED : 0;
  } finally {
    s3.destroy();
  }
}

export interface UploadedIndex {
  uploadId: string;
  /** Bytes stored (compressed size with compression). */
  size: number;
}

/** Streams the file up (never whole in memory), zstd-compressing it frame by frame when the key says .db.zst. */
export async function uploadIndex(
  s3: S3Client,
  opts: { file: string; bucket: string; staged: StagingKey; level?: number; uploadId?: string },
): Promise<UploadedIndex> {
  const { size: fileSize } = await stat(opts.file).catch((err: NodeJS.ErrnoException) => {
    throw new SnapmetaError('BAD_ARGUMENT', `cannot read ${opts.file}: ${err.code ?? err.message}`);
  });
  const uploadId = opts.uploadId ?? randomUUID();
  let size = 0;
  const counted = async function* (pieces: AsyncIterable<Uint8Array>) {
    for await (const piece of pieces) {
      size += piece.byteLength;
      yield piece;
    }
  };
  const pieces = readPieces(opts.file);
  // Several zstd frames back to back are one valid zstd stream.
  const body = opts.staged.compressed ? compressPieces(pieces, opts.level ?? 3) : pieces;
  await new Upload({
    client: s3,
    partSize: PART_SIZE,
    params: {
      Bucket: opts.bucket,
      Key: opts.staged.key,
      Body: Readable.from(counted(body)),
      // Known up front only for the plain file; lib-storage then skips counting.
      ContentLength: opts.staged.compressed ? undefined : fileSize,
      ContentType: opts.staged.compressed ? 'application/zstd' : 'application/vnd.sqlite3',
      Metadata: { [UPLOAD_ID_METADATA]: uploadId },
    },
  }).done();
  return { uploadId, size };
}

async function* readPieces(file: string): AsyncGenerator<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(PART_SIZE);
      const { bytesRead } = await fh.read(buf, 0, PART_SIZE, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

async function* compressPieces(pieces: AsyncIterable<Uint8Array>, level: number): AsyncGenerator<Uint8Array> {
  for await (const piece of pieces) yield await compressFrame(piece, level);
}

export interface FoundReceipt {
  key: string;
  receipt: Receipt;
}

/** Polls both receipt locations until one names this upload; undefined after timeoutMs. */
export async function waitForReceipt(
  s3: S3Client,
  opts: { bucket: string; staged: StagingKey; uploadId: string; timeoutMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<FoundReceipt | undefined> {
  const keys = [receiptKey('processed', opts.staged), receiptKey('rejected', opts.staged)];
  const staging = new S3MetadataStore(s3, opts.bucket, { signal: opts.signal });
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    for (const key of keys) {
      const receipt = await readReceipt(staging, key);
      if (receipt?.source.upload_id === opts.uploadId) return { key, receipt };
    }
    if (Date.now() >= until) return undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(opts.intervalMs ?? 1000, Math.max(0, until - Date.now()))));
    opts.signal?.throwIfAborted();
  }
}

/** One line a person reads first; the JSON receipt follows it. */
export function describeReceipt(key: string, r: Receipt): string {
  if (r.status === 'rejected') return `rejected: ${r.error?.code}: ${r.error?.message} (receipt ${key})`;
  const rows = Object.values(r.rows ?? {}).reduce((a, b) => a + b, 0);
  const head = r.status === 'duplicate' ? 'already published from the same bytes' : 'published';
  return [
    `${head}: snapshot ${r.snapshot_id} (receipt ${key})`,
    table([
      ['database', `s3://${r.outputs?.bucket}/${r.outputs?.db.key} (${formatBytes(r.outputs?.db.size ?? 0)})`],
      ['manifest', `s3://${r.outputs?.bucket}/${r.outputs?.manifest.key}`],
      ['kept', `${rows} rows, ${r.blob_count} blobs`],
      ['time', Object.entries(r.timings_ms).map(([stage, ms]) => `${stage} ${formatMs(ms)}`).join(', ')],
    ]),
  ].join('\n');
}
