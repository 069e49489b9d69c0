// Pruning to one snapshot without deleting anything: the rows to keep are
// collected once, as rowid sets in temp tables, through indexed lookups, and
// each set is counted again from its table alone (lib/core/checks.ts); the
// dump then reads only those rows. Deleting the other snapshots row by row is
// what makes the native pipeline slow. The upload itself is never written, so
// none of its triggers runs and sql.js never has to grow (copy) its file.
import { SnapmetaError } from './errors.ts';
import { findTable, type Layout, type Schema, type SchemaTable } from './layout.ts';
import { checkSelections, isBinaryKeyOn, uniqueIndexes, type Selection } from './checks.ts';
import { all, run, scalar, type Database, type SqlValue } from './sqlite.ts';
import { ident, sqlText } from './sql-text.ts';

export interface KeptTable {
  table: SchemaTable;
  /** Where the rows are read: the upload's table, or a temp table with the same columns. */
  source: string;
  /** Temp table of the kept rowids of source, in the order they are dumped. */
  keep: string;
  /** The column the rows were selected on, counted again from the table (checkSelections). */
  key?: string;
  rows: number;
}

export interface Plan {
  /** Exported tables in schema order, with their kept rows. */
  tables: KeptTable[];
  /** CREATE INDEX statements of the exported tables. */
  indexes: string[];
  skippedTables: string[];
  blobs: string[];
  /** Compressed size per kept blob hash, where the layout has sizes and the row holds one. */
  blobSizes?: Record<string, number>;
  warnings: string[];
  snapshot: { id: string; hostname: string; startedAt: number | null; completedAt: number | null };
}

/** Snapshot-scoped tables every layout prunes by its own rules, not just by snapshot_id. */
const SPECIAL = new Set(['snapshots', 'snapshot_files', 'snapshot_blobs']);

export function buildPlan(db: Database, schema: Schema, layout: Layout, snapshotId: string): Plan {
  const snapshot = findSnapshot(db, snapshotId);
  const q = (name: string) => `main.${ident(findTable(schema, name)!.name)}`;
  const rid = (name: string) => ident(findTable(schema, name)!.rowid!);
  const keepOf = new Map<string, { keep: string; source: string; key?: string }>();
  let n = 0;
  // Every set is filled from a SELECT sorted on its key: SQLite then appends to
  // the b-tree instead of inserting at random.
  const keepTable = (name: string, source = q(name), key?: string) => {
    const keep = `temp.keep_${n++}`;
    run(db, `CREATE TEMP TABLE ${keep.slice(5)}(r INTEGER PRIMARY KEY)`);
    keepOf.set(name, { keep, source, key });
    return keep;
  };
  const s = [snapshotId];
  const L = layout;
  // Each set is found through the upload's indexes, then counted again from
  // its table alone (checkSelections): a damaged index entry cannot drop a row.
  const selections: Selection[] = [];
  const select = (name: string, key: string, condition: string, params: SqlValue[] = []) => {
    const keep = keepTable(name, q(name), key);
    const where = `${ident(key)} ${condition}`;
    run(db, `INSERT INTO ${keep} SELECT ${rid(name)} FROM ${q(name)} WHERE ${where} ORDER BY 1`, params);
    selections.push({ table: findTable(schema, name)!.name, found: db.getRowsModified(), from: q(name), where, params });
    return keep;
  };
  // A key set read from the kept rows themselves: NOT INDEXED, or SQLite may
  // read the column from a covering index, whose copy can be the damaged one.
  const keysOf = (set: string, name: string, column: string, kept: string) => {
    run(db, `CREATE TEMP TABLE ${set}(k PRIMARY KEY) WITHOUT ROWID`);
    const keys = `temp.${set}`;
    run(db, `INSERT OR IGNORE INTO ${keys} SELECT ${ident(column)} FROM ${q(name)} NOT INDEXED WHERE ${rid(name)} IN (SELECT r FROM ${kept}) ORDER BY 1`);
    return keys;
  };

  select('snapshots', 'id', '= ?', s);
  const sf = select('snapshot_files', 'snapshot_id', '= ?', s);

  // Files of S that exist; their keys drive every file-keyed table.
  const named = keysOf('k_named', 'snapshot_files', L.fileRef.snapshot_files, sf);
  const fl = select('files', L.fileKey, `IN (SELECT k FROM ${named})`);
  const fileKeys = keysOf('k_file', 'files', L.fileKey, fl);
  const fc = select('file_chunks', L.fileRef.file_chunks, `IN (SELECT k FROM ${fileKeys})`);
  select('chunk_files', L.fileRef.chunk_files, `IN (SELECT k FROM ${fileKeys})`);

  // Chunks referenced by the kept file_chunks, and every blob_chunks row of them.
  const chunkKeys = keysOf('k_chunk', 'file_chunks', 'chunk_hash', fc);
  const ch = select('chunks', 'chunk_hash', `IN (SELECT k FROM ${chunkKeys})`);
  const bc = select('blob_chunks', 'chunk_hash', `IN (SELECT k FROM ${chunkKeys})`);

  // Blobs from chunk reachability, never from snapshot_blobs: a fully
  // deduplicated snapshot uploaded no blobs yet needs older ones to restore.
  const blobKeys = keysOf('k_blob', 'blob_chunks', L.blobRef, bc);
  const bl = select('blobs', L.blobKey, `IN (SELECT k FROM ${blobKeys})`);

  const warnings = collectWarnings(db, q, rid, L,
    { sf, fileKeys, chunkKeys, blobKeys, bl, ch, chunksTable: findTable(schema, 'chunks')!.name });
  const { added, own } = backfillSnapshotBlobs(db, findTable(schema, 'snapshot_blobs')!, q, rid, L, snapshotId, bl);
  selections.push(own);
  run(db, `INSERT INTO ${keepTable('snapshot_blobs', added)} SELECT ${rid('snapshot_blobs')} FROM ${added} ORDER BY 1`);

  const exported: KeptTable[] = [];
  const skippedTables: string[] = [];
  for (const table of schema.tables) {
    const lower = table.name.toLowerCase();
    const kept = keepOf.get(lower);
    if (kept) {
      exported.push({ table, ...kept, rows: 0 });
    } else if (!SPECIAL.has(lower) && !table.virtual && table.rowid && !lower.startsWith('sqlite_')
      && table.columns.some((c) => c.toLowerCase() === 'snapshot_id')) {
      // v2 uploads, and agents' own snapshot-scoped tables: the rows of S.
      select(lower, 'snapshot_id', '= ?', s);
      exported.push({ table, ...keepOf.get(lower)!, rows: 0 });
    } else {
      skippedTables.push(table.name);
    }
  }
  checkSelections(db, selections);
  for (const t of exported) t.rows = Number(scalar(db, `SELECT count(*) FROM ${t.keep}`));

  const { blobs, blobSizes } = keptBlobs(db, bl, q('blobs'), rid('blobs'), L.blobSize);
  const indexes = exported.flatMap((t) => schema.indexes.get(t.table.name.toLowerCase()) ?? []);
  return { tables: exported, indexes, skippedTables, blobs, blobSizes, warnings, snapshot };
}

/** The finished kept blobs' hashes, sorted, with their compressed sizes where the layout and the row have one. */
function keptBlobs(db: Database, kept: string, blobsTable: string, rowid: string, sizeColumn: string | undefined) {
  const size = sizeColumn ? `b.${ident(sizeColumn)}` : 'NULL';
  const rows = all(db, `SELECT CAST(b.blob_hash AS TEXT), max(CASE WHEN typeof(${size}) = 'integer' AND ${size} >= 0 THEN ${size} END)
                        FROM ${kept} k JOIN ${blobsTable} b ON b.${rowid} = k.r
                        WHERE b.blob_hash IS NOT NULL GROUP BY 1 ORDER BY 1`) as [string, number | null][];
  const sized = rows.filter((row): row is [string, number] => row[1] !== null);
  return { blobs: rows.map(([hash]) => hash), blobSizes: sizeColumn ? Object.fromEntries(sized) : undefined };
}

function findSnapshot(db: Database, snapshotId: string): Plan['snapshot'] {
  const rows = all(db, 'SELECT id, hostname, started_at, completed_at FROM main.snapshots WHERE id = ?', [snapshotId]);
  if (rows.length === 0) {
    const count = Number(scalar(db, 'SELECT count(*) FROM main.snapshots'));
    const some = (all(db, 'SELECT id FROM main.snapshots ORDER BY started_at DESC LIMIT 3') as [string][]).map((r) => JSON.stringify(r[0]));
    throw new SnapmetaError('SNAPSHOT_NOT_FOUND', `snapshot ${JSON.stringify(snapshotId)} is not in the index` +
      (count ? ` (it has ${count} snapshot${count === 1 ? '' : 's'}, latest ${some.join(', ')})` : ' (it has no snapshots)'));
  }
  // The id as stored: an upload's own collation may match an id spelled differently.
  const [id, hostname, startedAt, completedAt] = rows[0];
  if (completedAt === null) {
    throw new SnapmetaError('SNAPSHOT_INCOMPLETE', `snapshot ${JSON.stringify(snapshotId)} is still running (completed_at is NULL): export it once the backup has finished`);
  }
  return { id: String(id), hostname: String(hostname), startedAt: toNumber(startedAt), completedAt: toNumber(completedAt) };
}

const toNumber = (v: unknown) => (typeof v === 'number' ? v : v === null ? null : Number(v));

type Q = (name: string) => string;

/**
 * Exactly one snapshot_blobs row of S per kept blob: S's own rows, plus one
 * for each kept blob S has none for. They are gathered in a temp table made
 * from the upload's own CREATE TABLE, so SQLite applies the columns' defaults
 * and constraints as it would in the upload. Returns that table, and how S's
 * own rows were selected.
 */
function backfillSnapshotBlobs(db: Database, table: SchemaTable, q: Q, rid: Q, L: Layout, snapshotId: string, bl: string): { added: string; own: Selection } {
  const added = 'temp.snapmeta_snapshot_blobs';
  checkLiteralDefaults(db, table);
  run(db, tempClone(table.sql, added));
  const cols = table.columns.map(ident).join(', ');
  const keptBlobKeys = `SELECT b.${ident(L.blobKey)} FROM ${bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r`;
  // S's own rows keep their rowids; new ones are numbered as SQLite numbers them
  // after the native pipeline's DELETEs, in blob order.
  const where = `snapshot_id = ? AND ${ident(L.blobRef)} IN (${keptBlobKeys})`;
  run(db, `INSERT INTO ${added} (${rid('snapshot_blobs')}, ${cols}) SELECT ${rid('snapshot_blobs')}, ${cols} FROM ${q('snapshot_blobs')}
           WHERE ${where} ORDER BY 1`, [snapshotId]);
  const own: Selection = { table: table.name, found: db.getRowsModified(), from: q('snapshot_blobs'), where, params: [snapshotId] };
  run(db, `CREATE INDEX temp.snapmeta_snapshot_blobs_ref ON snapmeta_snapshot_blobs (${ident(L.blobRef)})`);
  const withHash = L.blobRef !== 'blob_hash';
  run(db, `INSERT INTO ${added} (${rid('snapshot_blobs')}, snapshot_id, ${ident(L.blobRef)}${withHash ? ', blob_hash' : ''})
           SELECT ${nextRowid(table, added)} + row_number() OVER (ORDER BY k.r),
                  ?, b.${ident(L.blobKey)}${withHash ? ', b.blob_hash' : ''}
           FROM ${bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r
           WHERE b.blob_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${added} x WHERE x.${ident(L.blobRef)} = b.${ident(L.blobKey)})
           ORDER BY k.r`, [snapshotId]);
  return { added, own };
}

// A default SQLite can apply without running anything the upload chose.
const LITERAL_DEFAULT = /^\(*\s*(NULL|TRUE|FALSE|CURRENT_(TIME|DATE|TIMESTAMP)|[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|0[xX][0-9a-fA-F]+|'([^']|'')*'|[xX]'[0-9a-fA-F]*')\s*\)*$/i;

/**
 * Added snapshot_blobs rows take the other columns' defaults, so those must be
 * literals: an expression such as zeroblob(1e9) would run with the upload's
 * arguments.
 */
function checkLiteralDefaults(db: Database, table: SchemaTable): void {
  for (const [name, dflt] of all(db, `SELECT name, dflt_value FROM main.pragma_table_info(?)`, [table.name]) as [string, string | null][]) {
    if (dflt !== null && !LITERAL_DEFAULT.test(dflt)) {
      throw new SnapmetaError('UNKNOWN_LAYOUT', `column ${table.name}.${name} has DEFAULT ${dflt.slice(0, 60)}, an expression: only literal defaults are accepted there`);
    }
  }
}

/** The rowid SQLite gives the next row of a table holding just the rows in `kept`. */
function nextRowid(table: SchemaTable, kept: string): string {
  const last = `coalesce((SELECT max(${ident(table.rowid!)}) FROM ${kept}), 0)`;
  // AUTOINCREMENT never reuses a rowid the table ever had.
  return /\bAUTOINCREMENT\b/i.test(table.sql)
    ? `max(${last}, coalesce((SELECT seq FROM main.sqlite_sequence WHERE name = ${sqlText(table.name)}), 0))`
    : last;
}

/** The upload's CREATE TABLE statement, for a temp table of another name. */
function tempClone(createSql: string, name: string): string {
  const head = /^CREATE\s+TABLE\s+("(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\s(]+)/i.exec(createSql);
  if (!head) throw new Error(`cannot read the table name in ${createSql.slice(0, 80)}`);
  return `CREATE TEMP TABLE ${name.slice(5)}${createSql.slice(head[0].length)}`;
}

/** Inconsistencies in the agent's index that would hurt a restore: reported, not fatal. */
function collectWarnings(db: Database, q: Q, rid: Q, L: Layout,
  k: { sf: string; fileKeys: string; chunkKeys: string; blobKeys: string; bl: string; ch: string; chunksTable: string }): string[] {
  const warnings: string[] = [];
  const count = (sql: string, params: string[] = []) => Number(scalar(db, sql, params));
  const missingFiles = count(`SELECT count(*) FROM ${q('snapshot_files')} WHERE ${rid('snapshot_files')} IN (SELECT r FROM ${k.sf})
                              AND ${ident(L.fileRef.snapshot_files)} NOT IN (SELECT k FROM ${k.fileKeys})`);
  if (missingFiles) warnings.push(`${missingFiles} snapshot_files rows of the snapshot name files that are not in the files table`);
  // With chunk_hash unique (its primary key in both layouts), every chunk found is one kept row.
  const missingChunks = uniqueIndexes(db, k.chunksTable).some((i) => isBinaryKeyOn(i.keys, 'chunk_hash'))
    ? count(`SELECT count(*) FROM ${k.chunkKeys}`) - count(`SELECT count(*) FROM ${k.ch}`)
    : count(`SELECT count(*) FROM ${k.chunkKeys} WHERE k NOT IN (SELECT chunk_hash FROM ${q('chunks')})`);
  if (missingChunks) warnings.push(`${missingChunks} chunks used by the snapshot's files are not in the chunks table`);
  // Usually every blob the kept chunks sit in exists and is finished; then a
  // chunk is stored as soon as it has a blob_chunks row, which its index
  // answers without reading any row.
  const allBlobsFinished = !count(`SELECT count(*) FROM ${k.blobKeys} kb WHERE NOT EXISTS (
      SELECT 1 FROM ${q('blobs')} b WHERE b.${ident(L.blobKey)} = kb.k AND b.blob_hash IS NOT NULL)`);
  const unstored = count(allBlobsFinished
    ? `SELECT count(*) FROM ${k.chunkKeys} c WHERE NOT EXISTS (SELECT 1 FROM ${q('blob_chunks')} bc WHERE bc.chunk_hash = c.k)`
    : `SELECT count(*) FROM ${k.chunkKeys} c WHERE NOT EXISTS (
      SELECT 1 FROM ${q('blob_chunks')} bc JOIN ${q('blobs')} b ON b.${ident(L.blobKey)} = bc.${ident(L.blobRef)}
      WHERE bc.chunk_hash = c.k AND b.blob_hash IS NOT NULL)`);
  if (unstored) warnings.push(`${unstored} chunks used by the snapshot's files are in no finished blob: those files cannot be restored`);
  const unfinished = count(`SELECT count(*) FROM ${k.bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r WHERE b.blob_hash IS NULL`);
  if (unfinished) warnings.push(`${unfinished} blobs holding the snapshot's chunks have no blob_hash (unfinished)`);
  return warnings;
}
