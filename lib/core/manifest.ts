// The blob manifest beside each export: what a vaultik-style prune reads
// (snapshot_id, timestamp, blob_count, blobs) plus our own fields. It is the
// commit record of an export, so it is written last.
import { SnapmetaError } from './errors.ts';
import { GENERATOR } from './version.ts';
import { compressFrame, decompressAll } from '../codecs/zstd.ts';

export const MANIFEST_FORMAT_VERSION = 1;

export interface Manifest {
  snapshot_id: string;
  timestamp: string;
  blob_count: number;
  blobs: string[];
  format_version: number;
  layout: string;
  db: { format: 'sql' | 'sqlite'; size: number; sha256: string; compression: 'zstd'; encryption: 'age' };
  rows: Record<string, number>;
  source: { sha256: string; size: number };
  snapshot: { hostname: string; started_at: number | null; completed_at: number | null };
  skipped_tables: string[];
  /** What the exported schema leaves out of the upload's; absent when nothing. */
  schema_changes?: string[];
  warnings: string[];
  generator: string;
}

export type ManifestInput = Omit<Manifest, 'timestamp' | 'format_version' | 'generator' | 'blob_count'>;

export function buildManifest(input: ManifestInput, now = new Date()): Manifest {
  return {
    snapshot_id: input.snapshot_id,
    // RFC 3339 UTC to the second, as vaultik writes it.
    timestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    blob_count: input.blobs.length,
    blobs: input.blobs,
    format_version: MANIFEST_FORMAT_VERSION,
    layout: input.layout,
    db: input.db,
    rows: input.rows,
    source: input.source,
    snapshot: input.snapshot,
    skipped_tables: input.skipped_tables,
    ...(input.schema_changes?.length ? { schema_changes: input.schema_changes } : {}),
    warnings: input.warnings,
    generator: GENERATOR,
  };
}

export async function encodeManifest(manifest: Manifest, level = 3): Promise<Uint8Array> {
  return compressFrame(Buffer.from(JSON.stringify(manifest)), level);
}

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
