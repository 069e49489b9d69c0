// Pruning to one snapshot without deleting anything: the rows to keep are
// collected once, as rowid sets in temp tables, through indexed lookups, and
// each set is counted again from its table alone (lib/core/checks.ts); the
// dump then reads only those rows. Deleting the other snapshots row by row is
// what makes the native pipeline slow. The upload itself is never written, so
// none of its triggers runs and sql.js never has to grow (copy) its file.
// The exported schema is written from SQLite's description of the upload
// (lib/core/table-shape.ts), and read first: a schema the export refuses
// costs no pruning.
import { SnapmetaError } from './errors.ts';
import { findTable, type Layout, type Schema, type SchemaTable } from './layout.ts';
import { checkSelections, isBinaryKeyOn, uniqueIndexes, type Selection } from './checks.ts';
import { createIndexSql, createTableSql, type TableShape } from './schema-text.ts';
import { describeTable, type DescribedTable } from './table-shape.ts';
import { all, run, scalar, type Database, type SqlValue } from './sqlite.ts';
import { ident, sqlText } from './sql-text.ts';

export interface KeptTable {
  table: SchemaTable;
  /** The export's CREATE TABLE (lib/core/schema-text.ts). */
  create: string;
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
  /** CREATE INDEX statements of the exported tables, written from their shapes. */
  indexes: string[];
  skippedTables: string[];
  /** What the exported schema leaves out of the upload's, one line each. */
  schemaChanges: string[];
  blobs: string[];
  /** Compressed size per kept blob hash, where the layout has sizes and the row holds one. */
  blobSizes?: Record<string, number>;
  warnings: string[];
  snapshot: { id: string; hostname: string; startedAt: number | null; completedAt: number | null };
}

export function buildPlan(db: Database, schema: Schema, layout: Layout, snapshotId: string): Plan {
  const { exported, skippedTables, shapes } = exportedSchema(db, schema, layout);
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
  const { added, own } = backfillSnapshotBlobs(db, shapes.get('snapshot_blobs')!.shape, q, rid, L, snapshotId, bl);
  selections.push(own);
  run(db, `INSERT INTO ${keepTable('snapshot_blobs', added)} SELECT ${rid('snapshot_blobs')} FROM ${added} ORDER BY 1`);

  const tables: KeptTable[] = [];
  for (const table of exported) {
    const lower = table.name.toLowerCase();
    // v2 uploads, and agents' own snapshot-scoped tables: the rows of S.
    if (!keepOf.has(lower)) select(lower, 'snapshot_id', '= ?', s);
    tables.push({ table, create: createTableSql(shapes.get(lower)!.shape), ...keepOf.get(lower)!, rows: 0 });
  }
  checkSelections(db, selections);
  for (const t of tables) t.rows = Number(scalar(db, `SELECT count(*) FROM ${t.keep}`));

  const { blobs, blobSizes } = keptBlobs(db, bl, q('blobs'), rid('blobs'), L.blobSize);
  const described = exported.map((t) => shapes.get(t.name.toLowerCase())!);
  const indexes = described.flatMap(({ shape }) => shape.indexes.map((index) => createIndexSql(shape, index)));
  const schemaChanges = described.flatMap((d) => d.changes);
  return { tables, indexes, skippedTables, schemaChanges, blobs, blobSizes, warnings, snapshot };
}

/**
 * The tables the export holds, in schema order: the layout's, and every
 * other rowid table with a snapshot_id column (v2 uploads, agents' own).
 * Each is described, and refused if it cannot be written, before any pruning.
 */
function exportedSchema(db: Database, schema: Schema, layout: Layout) {
  const exported: SchemaTable[] = [];
  const skippedTables: string[] = [];
  const shapes = new Map<string, DescribedTable>();
  for (const table of schema.tables) {
    const lower = table.name.toLowerCase();
    const known = Object.hasOwn(layout.tables, lower);
    if (known || (table.kind === 'table' && table.rowid && !lower.startsWith('sqlite_')
      && table.columns.some((c) => c.toLowerCase() === 'snapshot_id'))) {
      // The pruning compares these columns: they must use a collation SQLite has.
      const compared = new Set([...(known ? layout.tables[lower] : []), 'snapshot_id']);
      shapes.set(lower, describeTable(db, table, compared));
      exported.push(table);
    } else {
      skippedTables.push(table.name);
    }
  }
  return { exported, skippedTables, shapes };
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
 * for each kept blob S has none for. They are gathered in a temp table of our
 * own making, from the columns (lib/core/schema-text.ts): the upload's types,
 * NOT NULL, literal defaults and keys with built-in collations, and none of
 * its CHECK or DEFAULT expressions, which would run for every row. Returns
 * that table, and how S's own rows were selected.
 */
function backfillSnapshotBlobs(db: Database, shape: TableShape, q: Q, rid: Q, L: Layout, snapshotId: string, bl: string): { added: string; own: Selection } {
  const added = 'temp.snapmeta_snapshot_blobs';
  // No NOT NULL: a NULL S's own rows carry is the dump's to report, with the
  // column (checkFillable covers the rows added here).
  run(db, createTableSql(shape, { name: added, foreignKeys: false, notNull: false }));
  // Its unique indexes too, so a row the restore would refuse is refused here.
  shape.indexes.filter((i) => i.unique).forEach((index, n) => run(db, createIndexSql(shape, index, `temp.snapmeta_snapshot_blobs_u${n}`, 'snapmeta_snapshot_blobs')));
  const cols = shape.columns.map((c) => ident(c.name)).join(', ');
  const keptBlobKeys = `SELECT b.${ident(L.blobKey)} FROM ${bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r`;
  // S's own rows keep their rowids; new ones are numbered as SQLite numbers them
  // after the native pipeline's DELETEs, in blob order.
  const where = `snapshot_id = ? AND ${ident(L.blobRef)} IN (${keptBlobKeys})`;
  run(db, `INSERT INTO ${added} (${rid('snapshot_blobs')}, ${cols}) SELECT ${rid('snapshot_blobs')}, ${cols} FROM ${q('snapshot_blobs')}
           WHERE ${where} ORDER BY 1`, [snapshotId]);
  const own: Selection = { table: shape.name, found: db.getRowsModified(), from: q('snapshot_blobs'), where, params: [snapshotId] };
  run(db, `CREATE INDEX temp.snapmeta_snapshot_blobs_ref ON snapmeta_snapshot_blobs (${ident(L.blobRef)})`);
  const withHash = L.blobRef !== 'blob_hash';
  const missing = `FROM ${bl} k JOIN ${q('blobs')} b ON b.${rid('blobs')} = k.r
           WHERE b.blob_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${added} x WHERE x.${ident(L.blobRef)} = b.${ident(L.blobKey)})`;
  checkFillable(db, shape, [L.blobRef, ...(withHash ? ['blob_hash'] : [])], missing);
  run(db, `INSERT INTO ${added} (${rid('snapshot_blobs')}, snapshot_id, ${ident(L.blobRef)}${withHash ? ', blob_hash' : ''})
           SELECT ${nextRowid(shape, rid('snapshot_blobs'), added)} + row_number() OVER (ORDER BY k.r),
                  ?, b.${ident(L.blobKey)}${withHash ? ', b.blob_hash' : ''}
           ${missing} ORDER BY k.r`, [snapshotId]);
  return { added, own };
}

/**
 * A row the export adds sets only the snapshot and blob columns; each other
 * NOT NULL column needs a literal DEFAULT. Without one (an expression the
 * export will not run, or none), such rows cannot be written: refused, but
 * only when the snapshot needs one. `missing`: FROM … WHERE of those rows.
 */
function checkFillable(db: Database, shape: TableShape, set: string[], missing: string): void {
  const filled = new Set(['snapshot_id', ...set]);
  // The rowid alias takes the rowid.
  const unfillable = shape.columns.find((c) => c.notNull && c.default === undefined && !filled.has(c.name.toLowerCase())
    && !(c.primaryKey && !c.primaryKey.desc));
  if (!unfillable) return;
  const rows = Number(scalar(db, `SELECT count(*) ${missing}`));
  if (rows > 0) {
    throw new SnapmetaError('UNSAFE_SCHEMA', `table ${shape.name}, column ${unfillable.name}: NOT NULL with no literal DEFAULT (an expression there is `
      + `never run), so the ${rows} rows the export adds for blobs the snapshot needs but did not upload cannot be filled`);
  }
}

/** The rowid SQLite gives the next row of a table holding just the rows in `kept`. */
function nextRowid(shape: TableShape, rowid: string, kept: string): string {
  const last = `coalesce((SELECT max(${rowid}) FROM ${kept}), 0)`;
  // AUTOINCREMENT never reuses a rowid the table ever had.
  return shape.columns.some((c) => c.primaryKey?.autoincrement)
    ? `max(${last}, coalesce((SELECT seq FROM main.sqlite_sequence WHERE name = ${sqlText(shape.name)}), 0))`
    : last;
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
