// The reference pruning, done the way the original native pipeline does it:
// copy the index, then DELETE everything that snapshot S does not need with
// the sqlite3 CLI, then VACUUM. Tests compare our sql.js export against it,
// and the benchmark times it.
import { copyFileSync } from 'node:fs';
import { schemaSql } from '../../lib/sample/schemas.ts';
import type { LayoutShortName } from '../../lib/core/layout.ts';
import { sqlite, sqliteJson } from './sqlite-cli.ts';
import { ident, sqlText } from '../../lib/core/sql-text.ts';

/** What a pruning script must know about a database beyond its layout. */
export interface IndexObjects {
  tables: { name: string; columns: string[] }[];
  triggers: string[];
  views: string[];
}

/** The objects of a database, by any SQLite: rows of type, name and (for tables) a JSON array of columns. */
export const INDEX_OBJECTS_SQL = `SELECT type, name, CASE WHEN type = 'table' THEN
    (SELECT json_group_array(c.name) FROM pragma_table_info(s.name) c) END AS columns
  FROM sqlite_schema s WHERE type IN ('table', 'trigger', 'view') ORDER BY rowid`;

export function readIndexObjects(dbPath: string): IndexObjects {
  return toIndexObjects(sqliteJson<{ type: string; name: string; columns: string | null }>(dbPath, INDEX_OBJECTS_SQL));
}

export function toIndexObjects(objects: { type: string; name: string; columns: string | null }[]): IndexObjects {
  return {
    tables: objects.filter((o) => o.type === 'table').map((o) => ({ name: o.name, columns: JSON.parse(o.columns!) as string[] })),
    triggers: objects.filter((o) => o.type === 'trigger').map((o) => o.name),
    views: objects.filter((o) => o.type === 'view').map((o) => o.name),
  };
}

interface Keys {
  /** Key of a file, and the columns that refer to it. */
  file: string;
  snapshotFilesRef: string;
  fileChunksRef: string;
  chunkFilesRef: string;
  /** Key of a blob, and the column of blob_chunks / snapshot_blobs that refers to it. */
  blob: string;
  blobRef: string;
}

export const KEYS: Record<LayoutShortName, Keys> = {
  v1: { file: 'path', snapshotFilesRef: 'file_path', fileChunksRef: 'path', chunkFilesRef: 'file_path', blob: 'blob_hash', blobRef: 'blob_hash' },
  v2: { file: 'id', snapshotFilesRef: 'file_id', fileChunksRef: 'file_id', chunkFilesRef: 'file_id', blob: 'id', blobRef: 'blob_id' },
};

/** Tables pruned by the rules below rather than by their snapshot_id column. */
export const RULED = ['snapshots', 'snapshot_files', 'files', 'file_chunks', 'chunk_files', 'chunks', 'blob_chunks', 'blobs', 'snapshot_blobs'];

function layoutTables(layout: LayoutShortName): Set<string> {
  return new Set([...schemaSql(layout).matchAll(/^CREATE TABLE (\w+)/gim)].map((m) => m[1].toLowerCase()));
}

/**
 * What pruning does with each table besides the RULED ones: agent tables with
 * a snapshot_id column keep the rows of S; statistics and other unknown tables
 * go. Every other table is kept whole. Shared with the bench's copy-forward
 * pipeline, so both prune the same way.
 */
export function tableFates(layout: LayoutShortName, objects: IndexObjects): { bySnapshot: IndexObjects['tables']; dropped: IndexObjects['tables'] } {
  const known = layoutTables(layout);
  const ruled = new Set(RULED);
  const lower = (s: string) => s.toLowerCase();
  const bySnapshot = objects.tables.filter((t) => !ruled.has(lower(t.name)) && t.columns.some((c) => lower(c) === 'snapshot_id'));
  const dropped = objects.tables.filter((t) => /^sqlite_stat/i.test(t.name)
    || (!known.has(lower(t.name)) && !/^sqlite_/i.test(t.name) && !bySnapshot.includes(t)));
  return { bySnapshot, dropped };
}

/**
 * The DELETE-based pruning script for snapshot S. It needs the database's
 * own objects (readIndexObjects): triggers and views are dropped, agent tables
 * with a snapshot_id column keep the rows of S, other unknown tables go.
 */
export function nativePruneSql(layout: LayoutShortName, snapshotId: string, objects: IndexObjects): string {
  const k = KEYS[layout];
  const S = sqlText(snapshotId);
  const { bySnapshot, dropped } = tableFates(layout, objects);
  const v2 = layout === 'v2';
  return [
    'PRAGMA foreign_keys = OFF;',
    // Nothing an agent defined may run while we delete, or be exported.
    ...objects.triggers.map((n) => `DROP TRIGGER ${ident(n)};`),
    ...objects.views.map((n) => `DROP VIEW ${ident(n)};`),
    ...dropped.map((t) => `DROP TABLE ${ident(t.name)};`),
    'BEGIN;',
    `DELETE FROM snapshots WHERE id IS NOT ${S};`,
    `DELETE FROM snapshot_files WHERE snapshot_id IS NOT ${S};`,
    `DELETE FROM files WHERE NOT EXISTS (SELECT 1 FROM snapshot_files sf WHERE sf.${k.snapshotFilesRef} = files.${k.file});`,
    `DELETE FROM file_chunks WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.${k.file} = file_chunks.${k.fileChunksRef});`,
    `DELETE FROM chunk_files WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.${k.file} = chunk_files.${k.chunkFilesRef});`,
    'DELETE FROM chunks WHERE NOT EXISTS (SELECT 1 FROM file_chunks fc WHERE fc.chunk_hash = chunks.chunk_hash);',
    'DELETE FROM blob_chunks WHERE NOT EXISTS (SELECT 1 FROM file_chunks fc WHERE fc.chunk_hash = blob_chunks.chunk_hash);',
    `DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM blob_chunks bc WHERE bc.${k.blobRef} = blobs.${k.blob});`,
    `DELETE FROM snapshot_blobs WHERE snapshot_id IS NOT ${S}
       OR NOT EXISTS (SELECT 1 FROM blobs b WHERE b.${k.blob} = snapshot_blobs.${k.blobRef});`,
    // Every kept blob gets a snapshot_blobs row, also those S did not upload.
    `INSERT INTO snapshot_blobs (snapshot_id, ${k.blobRef}${v2 ? ', blob_hash' : ''})
       SELECT ${S}, b.${k.blob}${v2 ? ', b.blob_hash' : ''} FROM blobs b
       WHERE ${v2 ? 'b.blob_hash IS NOT NULL AND ' : ''}NOT EXISTS (SELECT 1 FROM snapshot_blobs sb WHERE sb.${k.blobRef} = b.${k.blob})
       ORDER BY b.rowid;`,
    ...bySnapshot.map((t) => `DELETE FROM ${ident(t.name)} WHERE snapshot_id IS NOT ${S};`),
    'COMMIT;',
    'VACUUM;',
    '',
  ].join('\n');
}

/** Copies the index at src to dest and prunes the copy to one snapshot with the sqlite3 CLI. */
export function nativePrune(src: string, dest: string, layout: LayoutShortName, snapshotId: string): void {
  copyFileSync(src, dest);
  sqlite(dest, nativePruneSql(layout, snapshotId, readIndexObjects(dest)));
}
