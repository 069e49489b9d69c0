// Export through the core API into a temp directory, and open the result with
// the Debian tools (age, zstd, sqlite3) — the interop path an operator uses.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { DirStore } from '../../lib/stores/dir-store.ts';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { publishExport, type PublishResult } from '../../lib/pipeline/publish.ts';
import { restoreExport, type RestoreResult } from '../../lib/pipeline/restore.ts';
import { decodeManifest } from '../../lib/core/manifest.ts';
import { sha256Hex } from '../../lib/codecs/hash.ts';
import type { KeyScheme } from '../../lib/core/keys.ts';
import type { DbFormat } from '../../lib/core/manifest.ts';
import { loadSqlJs } from '../../lib/core/sqlite.ts';
import { ident } from '../../lib/core/sql-text.ts';

export interface Keys {
  identity: string;
  identityFile: string;
  recipient: string;
}

export async function makeKeys(dir: string): Promise<Keys> {
  const identity = await generateIdentity();
  const identityFile = join(dir, 'key.txt');
  writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
  return { identity, identityFile, recipient: await identityToRecipient(identity) };
}

export function tempDir(prefix = 'snapmeta-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The publish result, with the job's schemaChanges (what the export wrote differently from the upload's schema). */
export type ExportResult = PublishResult & { schemaChanges: string[] };

export async function exportTo(out: string, bytes: Uint8Array, snapshotId: string, keys: Keys, format: DbFormat = 'sql', keyScheme: KeyScheme = 'plain'): Promise<ExportResult> {
  const job = await openExport(bytes, { snapshotId });
  try {
    const result = await publishExport(job, new DirStore(out), {
      recipients: [keys.recipient],
      format,
      keyScheme,
      source: { sha256: sha256Hex(bytes), size: bytes.byteLength },
    });
    return { ...result, schemaChanges: job.schemaChanges };
  } finally {
    job.close();
  }
}

/**
 * age -d | zstd -d | sqlite3 -safe (or straight to a file for the binary
 * image), as the README tells operators: in safe mode no dot-command or SQL
 * of a dump can reach a file or a program.
 */
export function debianRestore(exportDir: string, keys: Keys, to: string, format: DbFormat = 'sql'): void {
  const db = join(exportDir, 'db.zst.age');
  const sh = format === 'sql'
    ? `age -d -i "$1" "$2" | zstd -dc | sqlite3 -safe -bail "$3"`
    : `age -d -i "$1" "$2" | zstd -dc > "$3"`;
  execFileSync('bash', ['-o', 'pipefail', '-c', sh, 'restore', keys.identityFile, db, to], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `snapmeta restore`'s core: the export replayed by sql.js and checked against its manifest; the image written to `to`. */
export async function snapmetaRestore(exportDir: string, keys: Keys, to: string): Promise<RestoreResult> {
  const store = new DirStore(exportDir);
  const restored = await restoreExport({
    manifest: await decodeManifest((await store.get('manifest.json.zst'))!),
    db: new Response((await store.get('db.zst.age'))! as Uint8Array<ArrayBuffer>).body!,
    identities: [keys.identity],
  });
  writeFileSync(to, restored.image);
  return restored;
}

/** The manifest as the Debian zstd tool reads it. */
export function debianManifest(exportDir: string): Record<string, unknown> {
  return JSON.parse(execFileSync('zstd', ['-dc', join(exportDir, 'manifest.json.zst')], { encoding: 'utf8' }));
}

export function writeTemp(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/**
 * The index with its snapshots renamed (every snapshot_id column follows), so a
 * sample can carry the ids of any agent generation.
 */
export async function withSnapshotIds(bytes: Uint8Array, rename: (id: string, index: number) => string): Promise<Uint8Array> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database(bytes);
  try {
    const ids = (db.exec('SELECT id FROM snapshots ORDER BY started_at')[0]?.values ?? []).map(([id]) => String(id));
    const tables = (db.exec("SELECT m.name FROM sqlite_schema m JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'snapshot_id'")[0]?.values ?? []).map(([t]) => String(t));
    ids.forEach((id, index) => {
      const to = rename(id, index);
      db.run('UPDATE snapshots SET id = ? WHERE id = ?', [to, id]);
      for (const table of tables) db.run(`UPDATE ${ident(table)} SET snapshot_id = ? WHERE snapshot_id = ?`, [to, id]);
    });
    return db.export();
  } finally {
    db.close();
  }
}
