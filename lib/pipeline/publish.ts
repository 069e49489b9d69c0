// Publishing an opened export into a write-once store: the encrypted database
// first, then the manifest that commits it. Published metadata is immutable;
// a redelivered upload of the same bytes is recognised and not written again.
import { SnapmetaError } from '../core/errors.ts';
import type { ExportJob } from './open-export.ts';
import { digestTap, sha256Hex } from '../codecs/hash.ts';
import { buildManifest, decodeManifest, encodeManifest, type DbFormat, type Manifest } from '../core/manifest.ts';
import { metadataKeys, type KeyScheme, type MetadataKeys } from '../core/keys.ts';
import type { MetadataStore } from '../stores/store.ts';

export interface PublishOptions {
  recipients: string[];
  prefix?: string;
  format?: DbFormat;
  /** How the metadata folder is named (core/keys.ts); default plain. */
  keyScheme?: KeyScheme;
  level?: number;
  source: { sha256: string; size: number; key?: string; etag?: string; versionId?: string };
  onProgress?: (p: { stage: string; done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface PublishResult {
  status: 'published' | 'duplicate';
  snapshotId: string;
  hostname: string;
  layout: string;
  keyScheme: KeyScheme;
  /** The metadata folder's name: the snapshot id, or its hash. */
  metadataKey: string;
  dbKey: string;
  manifestKey: string;
  db: { format: DbFormat; size: number; sha256: string };
  manifestSize: number;
  rows: Record<string, number>;
  blobCount: number;
  skippedTables: string[];
  warnings: string[];
  bytesIn: number;
  bytesOut: number;
  timings: Record<string, number>;
}

const SOURCE_META = 'source-sha256';

/**
 * Publishes an opened export: db.zst.age, then the manifest that commits it,
 * each written once. A redelivery of the same source is a 'duplicate'; another
 * source for a published snapshot is ALREADY_PUBLISHED.
 */
export async function publishExport(job: ExportJob, store: MetadataStore, opts: PublishOptions): Promise<PublishResult> {
  const keyScheme = opts.keyScheme ?? 'plain';
  const keys = metadataKeys(opts.prefix ?? '', job.snapshot.id, keyScheme);
  const timings = { ...job.timings, dump: 0, compress: 0, encrypt: 0, write: 0 };
  const result = (status: PublishResult['status'], manifest: Manifest, manifestSize: number) =>
    resultOf(job, { status, keyScheme, keys, manifest, manifestSize, timings });

  const existing = await existingManifest(store, keys.manifestKey, opts.source.sha256);
  if (existing) return result('duplicate', existing.manifest, existing.size);

  let db = await reusableDb(store, keys.dbKey, opts.source.sha256);
  if (!db) {
    const written = await writeDb(job, store, keys.dbKey, opts.format ?? 'sql', opts, timings);
    db = written ?? (await reusableDb(store, keys.dbKey, opts.source.sha256));
    if (!db) throw new Error(`${keys.dbKey} vanished after a concurrent write`);
  }

  opts.signal?.throwIfAborted();
  const manifest = manifestOf(job, keys.key, keyScheme, db, opts.source);
  const body = await encodeManifest(manifest);
  const started = performance.now();
  const outcome = await store.putIfAbsent(keys.manifestKey, body, { contentType: 'application/zstd', metadata: { [SOURCE_META]: opts.source.sha256 } });
  timings.write += performance.now() - started;
  if (outcome === 'exists') {
    // Lost a race with a concurrent delivery: fine if it published the same source.
    const raced = await existingManifest(store, keys.manifestKey, opts.source.sha256);
    if (raced) return result('duplicate', raced.manifest, raced.size);
  }
  return result('published', manifest, body.byteLength);
}

function manifestOf(job: ExportJob, metadataKey: string, keyScheme: KeyScheme, db: DbInfo, source: PublishOptions['source']): Manifest {
  return buildManifest({
    snapshot_id: metadataKey,
    blobs: job.blobs,
    blob_sizes: job.blobSizes,
    key_scheme: keyScheme,
    layout: job.layout,
    db: { format: db.format, size: db.size, sha256: db.sha256, compression: 'zstd', encryption: 'age' },
    rows: job.rows,
    source: { sha256: source.sha256, size: source.size },
    snapshot: { hostname: job.snapshot.hostname, started_at: job.snapshot.startedAt, completed_at: job.snapshot.completedAt },
    skipped_tables: job.skippedTables,
    schema_changes: job.schemaChanges,
    warnings: job.warnings,
  });
}

/** What publishing did, from the manifest that commits it (ours, or the one already there). */
function resultOf(job: ExportJob, done: { status: PublishResult['status']; keyScheme: KeyScheme; keys: MetadataKeys; manifest: Manifest; manifestSize: number; timings: Record<string, number> }): PublishResult {
  const { status, manifest, manifestSize, keys } = done;
  return {
    status,
    snapshotId: job.snapshot.id,
    hostname: job.snapshot.hostname,
    layout: job.layout,
    keyScheme: done.keyScheme,
    metadataKey: keys.key,
    dbKey: keys.dbKey,
    manifestKey: keys.manifestKey,
    db: { format: manifest.db.format, size: manifest.db.size, sha256: manifest.db.sha256 },
    manifestSize,
    rows: manifest.rows,
    blobCount: manifest.blob_count,
    skippedTables: manifest.skipped_tables,
    warnings: manifest.warnings,
    bytesIn: job.bytesIn,
    bytesOut: status === 'duplicate' ? 0 : manifest.db.size + manifestSize,
    timings: done.timings,
  };
}

/** The manifest already published for this snapshot, if it came from the same source. */
async function existingManifest(store: MetadataStore, key: string, sourceSha256: string) {
  const bytes = await store.get(key);
  if (!bytes) return undefined;
  const manifest = await decodeManifest(bytes);
  if (manifest.source?.sha256 !== sourceSha256) {
    throw new SnapmetaError('ALREADY_PUBLISHED', `snapshot ${manifest.snapshot_id} is already published from another upload (source sha256 ${manifest.source?.sha256 ?? 'unknown'}); published metadata is never replaced`);
  }
  return { manifest, size: bytes.byteLength };
}

interface DbInfo {
  format: DbFormat;
  size: number;
  sha256: string;
}

/**
 * A database object left without its manifest (an earlier attempt stopped
 * between the two writes) is reused when it came from the same source.
 */
async function reusableDb(store: MetadataStore, key: string, sourceSha256: string): Promise<DbInfo | undefined> {
  const head = await store.head(key);
  if (!head) return undefined;
  if (head.metadata[SOURCE_META] !== sourceSha256) {
    throw new SnapmetaError('ALREADY_PUBLISHED', `${key} already exists from another upload and objects here are write-once; remove it by hand if that export was abandoned`);
  }
  const bytes = await store.get(key);
  if (!bytes) return undefined;
  const format = head.metadata['db-format'] === 'sqlite' ? 'sqlite' : 'sql';
  return { format, size: bytes.byteLength, sha256: sha256Hex(bytes) };
}

async function writeDb(job: ExportJob, store: MetadataStore, key: string, format: DbFormat, opts: PublishOptions, timings: Record<string, number>): Promise<DbInfo | undefined> {
  const total = Object.values(job.rows).reduce((a, b) => a + b, 0);
  const onRows = (p: { rowsDone: number }) => opts.onProgress?.({ stage: 'dump', done: p.rowsDone, total });
  const { stream, clock } = await job.output({ format, level: opts.level ?? 3, recipients: opts.recipients, onRows, signal: opts.signal });
  const tap = digestTap();
  const t = performance.now();
  const outcome = await store.putIfAbsent(key, stream.pipeThrough(tap.stream), {
    contentType: 'application/octet-stream',
    metadata: { [SOURCE_META]: opts.source.sha256, 'db-format': format },
  });
  // Dump, compression and encryption all run inside the store's read of the
  // stream; what is left of the elapsed time is the store's own I/O.
  const elapsed = performance.now() - t;
  timings.dump += clock.dump;
  timings.compress += clock.compress;
  timings.encrypt += clock.encrypt;
  timings.write += Math.max(0, elapsed - clock.upstream - clock.encrypt);
  if (outcome === 'exists') return undefined;
  return { format, ...tap.result() };
}
