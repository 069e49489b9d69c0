// Pruning to one snapshot without deleting anything: the rows to keep are
// collected once, as rowid sets in temp tables, through indexed lookups; the
// dump then reads only those rows. Deleting the other snapshots row by row is
// what makes the native pipeline slow, and nothing in the upload ever runs.
import { SnapmetaError } from './errors.ts';
import { findTable, type Layout, type Schema, type SchemaTable } from './layout.ts';
import { all, ident, run, scalar, type Database } from './sqljs.ts';

export interface KeptTable {
  table: SchemaTable;
  /** Temp table of the kept rowids, in the order they are dumped. */
  keep: string;
  rows: number;
}

export interface Plan {
  /** Exported tables in schema order, with their kept rows. */
  tables: KeptTable[];
  /** CREATE INDEX statements of the exported tables. */
  indexes: string[];
  skippedTables: string[];
  blobs: string[];
  warnings: string[];
  snapshot: { id: string; hostname: string; startedAt: number | null; completedAt: number | null };
}

/** Snapshot-scoped tables every layout prunes by its own rules, not just by snapshot_id. */
const SPECIAL = new Set(['snapshots', 'snapshot_files', 'snapshot_blobs']);

export function buildPlan(db: Database, schema: Schema, layout: Layout, snapshotId: string): Plan {
  const snapshot = findSnapshot(db, snapshotId);
  const q = (name: string) => `main.${ident(findTable(schema, name)!.name)}`;
  const rid = (name: string) => ident(findTable(schema, name)!.rowid!);
  const keepOf = new Map<string, string>();
  let n = 0;
  const keepTable = (name: string) => {
    const keep = `temp.keep_${n++}`;
    run(db, `CREATE TEMP TABLE ${keep.slice(5)}(r INTEGER PRIMARY KEY)`);
    keepOf.set(name, keep);
    return keep;
  };
  const keySet = (name: string) => {
    run(db, `CREATE TEMP TABLE ${name}(k PRIMARY KEY) WITHOUT ROWID`);
    return `temp.${name}`;
  };
  const s = [snapshotId];
  const L = layout;
  const col = ident;

  run(db, `INSERT INTO ${keepTable('snapshots')} SELECT ${rid('snapshots')} FROM ${q('snapshots')} WHERE id = ?`, s);
  const sf = keepTable('snapshot_files');
  run(db, `INSERT INTO ${sf} SELECT ${rid('snapshot_files')} FROM ${q('snapshot_files')} WHERE snapshot_id = ?`, s);

  // Files of S that exist; their keys drive every file-keyed table.
  const fileKeys = keySet('k_file');
  run(db, `INSERT OR IGNORE INTO ${fileKeys} SELECT ${col(L.fileKey)} FROM ${q('files')}
           WHERE ${col(L.fileKey)} IN (SELECT ${col(L.fileRef.snapshot_files)} FROM ${q('snapshot_files')} WHERE snapshot_id = ?)`, s);
  run(db, `INSERT INTO ${keepTable('files')} SELECT ${rid('files')} FROM ${q('files')} WHERE ${col(L.fileKey)} IN (SELECT k FROM ${fileKeys})`);
  const fc = keepTable('file_chunks');
  run(db, `INSERT INTO ${fc} SELECT ${rid('file_chunks')} FROM ${q('file_chunks')} WHERE ${col(L.fileRef.file_chunks)} IN (SELECT k FROM ${fileKeys})`);
  run(db, `INSERT INTO ${keepTable('chunk_files')} SELECT ${rid('chunk_files')} FROM ${q('chunk_files')} WHERE ${col(L.fileRef.chunk_files)} IN (SELECT k FROM ${fileKeys})`);

  // Chunks referenced by the kept file_chunks, and every blob_chunks row of them.
  const chunkKeys = keySet('k_chunk');
  run(db, `INSERT OR IGNORE INTO ${chunkKeys} SELECT chunk_hash FROM ${q('file_chunks')} WHERE ${rid('file_chunks')} IN (SELECT r FROM ${fc})`);
  run(db, `INSERT INTO ${keepTable('chunks')} SELECT ${rid('chunks')} FROM ${q('chunks')} WHERE chunk_hash IN (SELECT k FROM ${chunkKeys})`);
  const bc = keepTable('blob_chunks');
  run(db, `INSERT INTO ${bc} SELECT ${rid('blob_chunks')} FROM ${q('blob_chunks')} WHERE chunk_hash IN (SELECT k FROM ${chunkKeys})`);

  // Blobs from chunk reachability, never from snapshot_blobs: a fully
  // deduplicated snapshot uploaded no blobs yet needs older ones to restore.
  const blobKeys = keySet('k_blob');
  run(db, `INSERT OR IGNORE INTO ${blobKeys} SELECT ${col(L.blobRef)} FROM ${q('blob_chunks')} WHERE ${rid('blob_chunks')} IN (SELECT r FROM ${bc})`);
  const bl = keepTable('blobs');
  run(db, `INSERT INTO ${bl} SELECT ${rid('blobs')} FROM ${q('blobs')} WHERE ${col(L.blobKey)} IN (SELECT k FROM ${blobKeys})`);

  const warnings = collectWarnings(db, q, rid, L, snapshotId, { sf, fileKeys, chunkKeys, bl });
  const sb = keepTable('snapshot_blobs');
  backfillSnapshotBlobs(db, schema, q, rid, L, snapshotId, bl, sb);

  const exported: KeptTable[] = [];
  const skippedTables: string[] = [];
  for (const table of schema.tables) {
    const lower = table.name.toLowerCase();
    const keep = keepOf.get(lower);
    if (keep) {
      exported.push({ table, keep, rows: 0 });
    } else if (!SPECIAL.has(lower) && !table.virtual && table.rowid && !lower.startsWith('sqlite_')
      && table.columns.some((c) => c.toLowerCase() === 'snapshot_id')) {
      // v2 uploads, and agents' own snapshot-scoped tables: the rows of S.
      const k = keepTable(lower);
      run(db, `INSERT INTO ${k} SELECT ${ident(table.rowid)} FROM main.${ident(table.name)} WHERE snapshot_id = ?`, s);
      exported.push({ table, keep: k, rows: 0 });
    } else {
      skippedTables.push(table.name);
    }
  }
  for (const t of exported) t.rows = Number(scalar(db, `SELECT count(*) FROM ${t.keep}`));

  const blobs = (all(db, `SELECT DISTINCT CAST(b.blob_hash AS TEXT) FROM ${bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r
                          WHERE b.blob_hash IS NOT NULL ORDER BY 1`) as [string][]).map((r) => r[0]);
  const indexes = exported.flatMap((t) => schema.indexes.get(t.table.name.toLowerCase()) ?? []);
  return { tables: exported, indexes, skippedTables, blobs, warnings, snapshot };
}

function findSnapshot(db: Database, snapshotId: string): Plan['snapshot'] {
  const rows = all(db, 'SELECT hostname, started_at, completed_at FROM main.snapshots WHERE id = ?', [snapshotId]);
  if (rows.length === 0) {
    const count = Number(scalar(db, 'SELECT count(*) FROM main.snapshots'));
    const some = (all(db, 'SELECT id FROM main.snapshots ORDER BY started_at DESC LIMIT 3') as [string][]).map((r) => JSON.stringify(r[0]));
    throw new SnapmetaError('SNAPSHOT_NOT_FOUND', `snapshot ${JSON.stringify(snapshotId)} is not in the index` +
      (count ? ` (it has ${count} snapshot${count === 1 ? '' : 's'}, latest ${some.join(', ')})` : ' (it has no snapshots)'));
  }
  const [hostname, startedAt, completedAt] = rows[0];
  if (completedAt === null) {
    throw new SnapmetaError('SNAPSHOT_INCOMPLETE', `snapshot ${JSON.stringify(snapshotId)} is still running (completed_at is NULL): export it once the backup has finished`);
  }
  return { id: snapshotId, hostname: String(hostname), startedAt: toNumber(startedAt), completedAt: toNumber(completedAt) };
}

const toNumber = (v: unknown) => (typeof v === 'number' ? v : v === null ? null : Number(v));

type Q = (name: string) => string;

/** Exactly one snapshot_blobs row of S per kept blob: keep S's own, add the missing ones. */
function backfillSnapshotBlobs(db: Database, schema: Schema, q: Q, rid: Q, L: Layout, snapshotId: string, bl: string, sb: string) {
  const keptBlobKeys = `SELECT b.${ident(L.blobKey)} FROM ${bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r`;
  run(db, `INSERT INTO ${sb} SELECT ${rid('snapshot_blobs')} FROM ${q('snapshot_blobs')}
           WHERE snapshot_id = ? AND ${ident(L.blobRef)} IN (${keptBlobKeys})`, [snapshotId]);
  // The rows are added to our in-memory copy so SQLite itself applies the
  // columns' defaults; the upload's triggers are dropped first so none can run.
  for (const trigger of schema.triggers) run(db, `DROP TRIGGER main.${ident(trigger)}`);
  const before = scalar(db, `SELECT max(${rid('snapshot_blobs')}) FROM ${q('snapshot_blobs')}`) ?? 0;
  const withHash = L.blobRef !== 'blob_hash';
  run(db, `INSERT INTO ${q('snapshot_blobs')} (snapshot_id, ${ident(L.blobRef)}${withHash ? ', blob_hash' : ''})
           SELECT ?, b.${ident(L.blobKey)}${withHash ? ', b.blob_hash' : ''} FROM ${bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r
           WHERE b.blob_hash IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM ${q('snapshot_blobs')} x WHERE x.snapshot_id = ? AND x.${ident(L.blobRef)} = b.${ident(L.blobKey)})
           ORDER BY k.r`, [snapshotId, snapshotId]);
  run(db, `INSERT INTO ${sb} SELECT ${rid('snapshot_blobs')} FROM ${q('snapshot_blobs')} WHERE ${rid('snapshot_blobs')} > ?`, [before]);
}

/** Inconsistencies in the agent's index that would hurt a restore: reported, not fatal. */
function collectWarnings(db: Database, q: Q, rid: Q, L: Layout, snapshotId: string,
  k: { sf: string; fileKeys: string; chunkKeys: string; bl: string }): string[] {
  const warnings: string[] = [];
  const count = (sql: string, params: string[] = []) => Number(scalar(db, sql, params));
  const missingFiles = count(`SELECT count(*) FROM ${q('snapshot_files')} WHERE ${rid('snapshot_files')} IN (SELECT r FROM ${k.sf})
                              AND ${ident(L.fileRef.snapshot_files)} NOT IN (SELECT k FROM ${k.fileKeys})`);
  if (missingFiles) warnings.push(`${missingFiles} snapshot_files rows of the snapshot name files that are not in the files table`);
  const missingChunks = count(`SELECT count(*) FROM ${k.chunkKeys} WHERE k NOT IN (SELECT chunk_hash FROM ${q('chunks')})`);
  if (missingChunks) warnings.push(`${missingChunks} chunks used by the snapshot's files are not in the chunks table`);
  const unstored = count(`SELECT count(*) FROM ${k.chunkKeys} c WHERE NOT EXISTS (
      SELECT 1 FROM ${q('blob_chunks')} bc JOIN ${q('blobs')} b ON b.${ident(L.blobKey)} = bc.${ident(L.blobRef)}
      WHERE bc.chunk_hash = c.k AND b.blob_hash IS NOT NULL)`);
  if (unstored) warnings.push(`${unstored} chunks used by the snapshot's files are in no finished blob: those files cannot be restored`);
  const unfinished = count(`SELECT count(*) FROM ${k.bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r WHERE b.blob_hash IS NULL`);
  if (unfinished) warnings.push(`${unfinished} blobs holding the snapshot's chunks have no blob_hash (unfinished)`);
  return warnings;
}
