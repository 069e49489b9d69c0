// Where an export is, for the commands that read one (restore, verify): a
// local folder in any of the forms locate-export.ts accepts, or a bucket
// (s3://bucket/prefix plus the snapshot id, under either key scheme). Both are
// read through the same store interface, the database as a stream.
import { DB_FILE, KEY_SCHEMES, MANIFEST_FILE, metadataKeys } from '../lib/core/keys.ts';
import { SnapmetaError } from '../lib/core/errors.ts';
import { decodeManifest, type Manifest } from '../lib/core/manifest.ts';
import { DirStore } from '../lib/stores/dir-store.ts';
import { S3MetadataStore } from '../lib/stores/s3-store.ts';
import type { MetadataStore } from '../lib/stores/store.ts';
import { isS3Url, parseS3Url, s3For } from './aws.ts';
import { findPublished, locateExport } from './locate-export.ts';

export interface ExportLocation {
  store: MetadataStore;
  dbKey: string;
  manifestKey: string;
  /** For messages: a folder or an s3:// URL. */
  where: string;
  /** Set for a bucket: where its blobs are, and the client to reach them. */
  bucket?: { name: string; prefix: string; s3: ReturnType<typeof s3For> };
  close(): void;
}

export async function openExportLocation(target: string, snapshotId: string | undefined, endpoint?: string): Promise<ExportLocation> {
  if (!isS3Url(target)) {
    const folder = await locateExport(target, snapshotId);
    return { store: new DirStore(folder), dbKey: DB_FILE, manifestKey: MANIFEST_FILE, where: folder, close: () => {} };
  }
  if (snapshotId === undefined) throw new SnapmetaError('BAD_ARGUMENT', `with ${target}, give the snapshot id too: ${target} <snapshot-id>`);
  const { bucket, prefix } = parseS3Url(target);
  const s3 = s3For(endpoint);
  const store = new S3MetadataStore(s3, bucket);
  try {
    const keys = await findPublished(store, prefix, snapshotId);
    if (!keys) {
      const looked = KEY_SCHEMES.map((scheme) => `s3://${bucket}/${metadataKeys(prefix, snapshotId, scheme).dir}`).join(' and ');
      throw new SnapmetaError('BAD_ARGUMENT', `no export of snapshot ${JSON.stringify(snapshotId)} in ${target} (looked in ${looked}); check the bucket, its prefix and --endpoint`);
    }
    return { store, ...keys, where: `s3://${bucket}/${keys.dir}`, bucket: { name: bucket, prefix, s3 }, close: () => s3.destroy() };
  } catch (err) {
    s3.destroy();
    throw err;
  }
}

export async function readManifest(location: ExportLocation): Promise<Manifest> {
  const bytes = await location.store.get(location.manifestKey);
  if (!bytes) throw new SnapmetaError('BAD_ARGUMENT', `${location.where} has no ${MANIFEST_FILE}`);
  return decodeManifest(bytes);
}

export async function openDb(location: ExportLocation): Promise<ReadableStream<Uint8Array>> {
  const stream = await location.store.getStream(location.dbKey);
  if (!stream) throw new SnapmetaError('BAD_ARGUMENT', `${location.where} has no ${DB_FILE}: the export is incomplete (its manifest is there); copy the whole folder`);
  return stream;
}
