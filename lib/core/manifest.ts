// The blob manifest beside each export: what a vaultik-style prune reads
// (snapshot_id, timestamp, blob_count, blobs) plus our own fields. It is the
// export's commit record, written last, and not encrypted
// (docs/design.md, "Manifest").
import { SnapmetaError } from './errors.ts';
import type { KeyScheme } from './keys.ts';
import { GENERATOR } from './version.ts';
import { compressFrame, decompressAll } from '../codecs/zstd.ts';

export const MANIFEST_FORMAT_VERSION = 1;

/** What db.zst.age holds: SQL text like `sqlite3 .dump`, or a SQLite file image. */
export type DbFormat = 'sql' | 'sqlite';
export const DB_FORMATS: readonly DbFormat[] = ['sql', 'sqlite'];

export interface Manifest {
  /** The metadata folder's name: the snapshot id, or under the hashed scheme its hash. */
  snapshot_id: string;
  timestamp: string;
  blob_count: number;
  /** Blob hashes, sorted: the seed's list, unchanged. */
  blobs: string[];
  /** Sum of blob_sizes, when the index has every kept blob's compressed size (layout v2). */
  total_compressed_size?: number;
  /** Compressed size per blob hash, where the index has it (layout v2). */
  blob_sizes?: Record<string, number>;
  format_version: number;
  /** Absent in manifests written before the hashed scheme: plain. */
  key_scheme?: KeyScheme;
  layout: string;
  db: { format: DbFormat; size: number; sha256: string; compression: 'zstd'; encryption: 'age' };
  rows: Record<string, number>;
  source: { sha256: string; size: number };
  /** Left out under the hashed scheme, which must not show host or time. */
  snapshot?: { hostname: string; started_at: number | null; completed_at: number | null };
  skipped_tables: string[];
  /** What the exported schema leaves out of the upload's; absent when nothing. */
  schema_changes?: string[];
  warnings: string[];
  generator: string;
}

export type ManifestInput = Omit<Manifest, 'timestamp' | 'format_version' | 'generator' | 'blob_count' | 'total_compressed_size'>;

/** The manifest of an export: blob_count, total_compressed_size and the fixed fields filled in; no host or time under the hashed scheme. */
export function buildManifest(input: ManifestInput, now = new Date()): Manifest {
  const sizes = input.blob_sizes;
  const complete = sizes !== undefined && input.blobs.every((hash) => hash in sizes);
  return {
    snapshot_id: input.snapshot_id,
    // RFC 3339 UTC to the second, as vaultik writes it.
    timestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    blob_count: input.blobs.length,
    blobs: input.blobs,
    ...(complete ? { total_compressed_size: Object.values(sizes).reduce((sum, size) => sum + size, 0) } : {}),
    ...(sizes ? { blob_sizes: sizes } : {}),
    format_version: MANIFEST_FORMAT_VERSION,
    key_scheme: input.key_scheme ?? 'plain',
    layout: input.layout,
    db: input.db,
    rows: input.rows,
    source: input.source,
    ...(input.key_scheme === 'hashed' || !input.snapshot ? {} : { snapshot: input.snapshot }),
    skipped_tables: input.skipped_tables,
    ...(input.schema_changes?.length ? { schema_changes: input.schema_changes } : {}),
    warnings: input.warnings,
    generator: GENERATOR,
  };
}

/** manifest.json.zst's bytes: the JSON as one zstd frame. */
export async function encodeManifest(manifest: Manifest, level = 3): Promise<Uint8Array> {
  return compressFrame(Buffer.from(JSON.stringify(manifest)), level);
}

/** A manifest from manifest.json.zst's bytes. Throws SnapmetaError CORRUPT when they are not one. */
export async function decodeManifest(bytes: Uint8Array): Promise<Manifest> {
  try {
    const manifest = JSON.parse(Buffer.from(await decompressAll(bytes)).toString('utf8')) as Manifest;
    if (typeof manifest.snapshot_id !== 'string' || !Array.isArray(manifest.blobs) || typeof manifest.db?.sha256 !== 'string') {
      throw new Error('missing fields');
    }
    return manifest;
  } catch (err) {
    throw new SnapmetaError('CORRUPT', `manifest.json.zst is not a snapmeta manifest: ${(err as Error).message}`);
  }
}
