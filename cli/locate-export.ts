// What `snapmeta restore` is pointed at, resolved to the folder holding an
// export's db.zst.age and manifest.json.zst: that folder, either file in it,
// or an export's --out directory plus the snapshot id (folder named by the id
// or by its hash, whichever scheme wrote it).
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SnapmetaError } from '../lib/core/errors.ts';
import { DB_FILE, KEY_SCHEMES, MANIFEST_FILE, METADATA_FOLDER, metadataKeys, type MetadataKeys } from '../lib/core/keys.ts';
import { DirStore } from '../lib/stores/dir-store.ts';
import type { MetadataStore } from '../lib/stores/store.ts';

export const EXPORT_FORMS = `<export> is any of:
  <dir>/metadata/<id>              the folder an export wrote (what 'snapmeta export' prints)
  <dir>/metadata/<id>/db.zst.age   a file in that folder (the other is read beside it)
  <dir> <snapshot-id>              the export's --out directory and the snapshot's id; finds
                                   metadata/<id>/ or metadata/<sha256 key>/ (hashed key scheme)
  s3://<bucket>[/<prefix>] <snapshot-id>
                                   straight from the backup bucket (the deployment's backupPrefix),
                                   under either key scheme; streamed, nothing copied to disk`;

const PASS = 'pass the folder an export wrote (<dir>/metadata/<id>), or <dir> <snapshot-id>';
const EXAMPLES_SHOWN = 3;

/** The export's folder; throws BAD_ARGUMENT saying what to pass instead. */
export async function locateExport(target: string, snapshotId?: string): Promise<string> {
  const found = await stat(target).catch(() => undefined);
  if (!found) throw bad(`${target} does not exist; ${PASS}`);
  if (snapshotId !== undefined) return findUnderRoot(target, found, snapshotId);
  if (found.isFile()) return fileInExport(target);
  if (await isFile(join(target, MANIFEST_FILE))) return target;
  throw await notAnExport(target);
}

async function findUnderRoot(root: string, found: Stats, snapshotId: string): Promise<string> {
  if (!found.isDirectory()) throw bad(`${root} is a file; with a snapshot id, pass the export's --out directory`);
  const store = new DirStore(root);
  const keys = await findPublished(store, '', snapshotId);
  if (keys) return store.path(keys.dir);
  const folders = KEY_SCHEMES.map((scheme) => store.path(metadataKeys('', snapshotId, scheme).dir));
  throw bad(`no export of snapshot ${JSON.stringify(snapshotId)} under ${root} (looked in ${folders.join(' and ')})`);
}

/** The snapshot's keys under whichever scheme published it (plain first); undefined when neither did. */
export async function findPublished(store: MetadataStore, prefix: string, snapshotId: string): Promise<MetadataKeys | undefined> {
  for (const scheme of KEY_SCHEMES) {
    const keys = metadataKeys(prefix, snapshotId, scheme);
    if (await store.head(keys.manifestKey)) return keys;
  }
  return undefined;
}

function fileInExport(file: string): string {
  if (basename(file) === DB_FILE || basename(file) === MANIFEST_FILE) return dirname(file);
  throw bad(`${file} is a file, not an export; ${PASS}`);
}

/** Names the mistake: an --out directory, its metadata/ folder, or something else. */
async function notAnExport(dir: string): Promise<SnapmetaError> {
  const metadata = basename(dir) === METADATA_FOLDER ? dir : join(dir, METADATA_FOLDER);
  const folders = await exportFolders(metadata);
  if (folders.length === 0) return bad(`${dir} holds no export (no ${MANIFEST_FILE}); ${PASS}`);
  const root = metadata === dir ? dirname(dir) : dir;
  const examples = folders.slice(0, EXAMPLES_SHOWN).map((f) => join(metadata, f)).join(', ');
  const more = folders.length > EXAMPLES_SHOWN ? ` and ${folders.length - EXAMPLES_SHOWN} more` : '';
  return bad(`${dir} is not one export but holds ${folders.length} under ${metadata}; pass ${root} <snapshot-id>, or one folder: ${examples}${more}`);
}

async function exportFolders(metadata: string): Promise<string[]> {
  const entries = await readdir(metadata, { withFileTypes: true }).catch(() => []);
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const withManifest = await Promise.all(folders.map((f) => isFile(join(metadata, f, MANIFEST_FILE))));
  return folders.filter((_, i) => withManifest[i]);
}

const isFile = (path: string) => stat(path).then((s) => s.isFile(), () => false);

const bad = (message: string) => new SnapmetaError('BAD_ARGUMENT', message);
