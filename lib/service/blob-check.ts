// Whether the blobs an export names exist in the backup bucket, where vaultik
// keeps them (<prefix>blobs/<h[0:2]>/<h[2:4]>/<h>), at the compressed size the
// index recorded. An export is only worth something if they do; a missing blob
// is the bucket's fault, not the export's, so it is reported, never fatal.
//
// Requests are what this costs: one HEAD per blob, or a listing of the shards
// the blobs sit in, which answers for every blob of a shard at once. The first
// top-level shard is listed whole to learn how full the bucket is; the rest
// goes by whichever way then needs the fewest requests (docs/operations.md).
import { setMaxListeners } from 'node:events';
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { blobKey } from '../core/keys.ts';
import { unlessNotFound } from '../stores/s3-store.ts';
import type { MetadataStore } from '../stores/store.ts';

export interface BlobCheck {
  method: 'head' | 'list-shards' | 'list-top';
  checked: number;
  missing: number;
  /** The first missing hashes. */
  missingSample: string[];
  sizeMismatches: number;
  mismatchSample: { blob: string; expected: number; found: number }[];
  requests: number;
  durationMs: number;
}

export interface BlobCheckOptions {
  s3: S3Client;
  bucket: string;
  /** Ends in 'blobs/' in vaultik's layout. */
  blobPrefix: string;
  blobs: string[];
  /** Compressed size per hash, where the index has it. */
  sizes?: Record<string, number>;
  signal?: AbortSignal;
  /** Use this method rather than the cheapest (to measure them against each other). */
  method?: BlobCheck['method'];
}

/**
 * The same check through any store, one head per blob: for a local copy of a
 * bucket (a directory) or a store without listings.
 */
export async function checkBlobsInStore(store: MetadataStore, opts: Omit<BlobCheckOptions, 's3' | 'bucket' | 'method'>): Promise<BlobCheck> {
  const started = performance.now();
  const found = new Map<string, number>();
  await eachConcurrently(opts.blobs, async (hash) => {
    const { key } = blobKey(opts.blobPrefix, hash);
    opts.signal?.throwIfAborted();
    const head = await store.head(key);
    if (head) found.set(key, head.size);
  });
  return report(opts, found, 'head', opts.blobs.length, performance.now() - started);
}

/** Few enough blobs that probing how full the bucket is would cost more than asking for each. */
const HEAD_ALWAYS_BELOW = 64;
const CONCURRENCY = 32;
const SAMPLE = 20;
const PAGE = 1000;

export async function checkBlobs(opts: BlobCheckOptions): Promise<BlobCheck> {
  const started = performance.now();
  // Every request in flight listens to the deadline's signal.
  if (opts.signal) setMaxListeners(CONCURRENCY * 2, opts.signal);
  const counter = { requests: 0 };
  const found = new Map<string, number>();
  let method: BlobCheck['method'] = opts.method ?? 'head';
  let pending = opts.blobs;
  if (opts.method !== 'head' && (opts.method || pending.length >= HEAD_ALWAYS_BELOW)) {
    const plan = await probe(opts, counter, found);
    method = plan.method;
    pending = pending.filter((hash) => !plan.resolved.has(hash));
    if (method !== 'head') {
      const shards = shardsOf(pending, opts.blobPrefix, method === 'list-top' ? 1 : 2);
      await eachConcurrently(shards, (shard) => listPrefix(opts, counter, found, shard));
      pending = [];
    }
  }
  await eachConcurrently(pending, (hash) => headOne(opts, counter, found, hash));
  return report(opts, found, method, counter.requests, performance.now() - started);
}

/**
 * Lists the first blob's top-level shard whole (its blobs are then known) and
 * picks the cheapest way for the others from how many pages that took.
 */
async function probe(opts: BlobCheckOptions, counter: { requests: number }, found: Map<string, number>) {
  const top = shardsOf(opts.blobs, opts.blobPrefix, 1);
  const first = top[0];
  const { pages, objects } = await listPrefix(opts, counter, found, first);
  const resolved = new Set(opts.blobs.filter((hash) => blobKey(opts.blobPrefix, hash).shard.startsWith(first)));
  const rest = opts.blobs.filter((hash) => !resolved.has(hash));
  const costs = {
    head: rest.length,
    'list-top': (top.length - 1) * pages,
    // A top-level shard splits into 256 second-level ones.
    'list-shards': shardsOf(rest, opts.blobPrefix, 2).length * Math.max(1, Math.ceil(objects / 256 / PAGE)),
  };
  const cheapest = (Object.keys(costs) as (keyof typeof costs)[]).reduce((best, m) => (costs[m] < costs[best] ? m : best), 'head');
  return { method: opts.method ?? cheapest, resolved };
}

/** The distinct shard folders of some blobs, one level (h[0:2]/) or two (h[0:2]/h[2:4]/) deep. */
function shardsOf(blobs: string[], blobPrefix: string, depth: 1 | 2): string[] {
  const shards = new Set(blobs.map((hash) => (depth === 1 ? `${blobPrefix}${hash.slice(0, 2)}/` : blobKey(blobPrefix, hash).shard)));
  return [...shards].sort();
}

/** Every object under a prefix into `found` (key → size); resolves how many pages and objects that was. */
async function listPrefix(opts: BlobCheckOptions, counter: { requests: number }, found: Map<string, number>, prefix: string) {
  let token: string | undefined;
  let pages = 0;
  let objects = 0;
  do {
    opts.signal?.throwIfAborted();
    const out = await opts.s3.send(new ListObjectsV2Command({ Bucket: opts.bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: opts.signal });
    counter.requests++;
    pages++;
    for (const object of out.Contents ?? []) found.set(object.Key!, object.Size ?? 0);
    objects += out.Contents?.length ?? 0;
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return { pages, objects };
}

async function headOne(opts: BlobCheckOptions, counter: { requests: number }, found: Map<string, number>, hash: string) {
  const { key } = blobKey(opts.blobPrefix, hash);
  opts.signal?.throwIfAborted();
  counter.requests++;
  const head = await unlessNotFound(opts.s3.send(new HeadObjectCommand({ Bucket: opts.bucket, Key: key }), { abortSignal: opts.signal }));
  if (head) found.set(key, head.ContentLength ?? 0);
}

/** `work` for every item, CONCURRENCY at a time. */
async function eachConcurrently<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

function report(opts: Pick<BlobCheckOptions, 'blobs' | 'sizes' | 'blobPrefix'>, found: Map<string, number>, method: BlobCheck['method'], requests: number, durationMs: number): BlobCheck {
  const missing: string[] = [];
  const mismatches: BlobCheck['mismatchSample'] = [];
  for (const blob of opts.blobs) {
    const size = found.get(blobKey(opts.blobPrefix, blob).key);
    const expected = opts.sizes?.[blob];
    if (size === undefined) missing.push(blob);
    else if (expected !== undefined && size !== expected) mismatches.push({ blob, expected, found: size });
  }
  return {
    method,
    checked: opts.blobs.length,
    missing: missing.length,
    missingSample: missing.slice(0, SAMPLE),
    sizeMismatches: mismatches.length,
    mismatchSample: mismatches.slice(0, SAMPLE),
    requests,
    durationMs: Math.round(durationMs),
  };
}
