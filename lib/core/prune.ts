// Pruning to one snapshot without deleting anything: the rowids of the rows to
// keep are collected in temp tables ("keep sets"), the dump reads only those
// rows, and the upload itself is never written. Why: docs/design.md, "Pruning".
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

/**
 * What to export of one snapshot: its rows of every exported table, as keep
 * sets in `db`'s temp schema, the schema to write them with, the blobs the
 * snapshot needs, and warnings about the upload; `db`'s main schema is never written.
 * Throws SnapmetaError SNAPSHOT_NOT_FOUND, SNAPSHOT_INCOMPLETE, UNSAFE_SCHEMA
 * (a schema the export cannot write so that it restores) or CORRUPT (the
 * upload's indexes and tables disagree).
 */
export function buildPlan(db: Database, schema: Schema, layout: Layout, snapshotId: string): Plan {
  const { exported, skippedTables, shapes } = exportedSchema(db, schema, layout);
  const snapshot = findSnapshot(db, snapshotId);
  const pruning = new Pruning(db, schema, layout, snapshotId);
  const reached = selectReachable(pruning);
  const warnings = collectWarnings(pruning, reached);
  backfillSnapshotBlobs(pruning, shapes.get('snapshot_blobs')!.shape, reached.blobs);
  const tables = keptTables(pruning, exported, shapes);
  checkSelections(db, pruning.selections);
  for (const kept of tables) kept.rows = pruning.count(`SELECT count(*) FROM ${kept.keep}`);

  const { blobs, blobSizes } = keptBlobs(pruning, reached.blobs);
  const described = exported.map((table) => shapes.get(table.name.toLowerCase())!);
  const indexes = described.flatMap(({ shape }) => shape.indexes.map((index) => createIndexSql(shape, index)));
  const schemaChanges = described.flatMap(({ changes }) => changes);
  return { tables, indexes, skippedTables, schemaChanges, blobs, blobSizes, warnings, snapshot };
}

/** Where a table's kept rows are read, and the temp table of their rowids. */
type KeepSet = Pick<KeptTable, 'keep' | 'source' | 'key'>;

/**
 * One pruning under way: the upload, its layout, the snapshot kept, and the
 * keep sets made so far (temp.keep_0, keep_1…), with how each was selected.
 * Tables are named as the layout names them (lower case).
 */
class Pruning {
  readonly selections: Selection[] = [];
  private readonly keepSets = new Map<string, KeepSet>();
  private made = 0;

  constructor(
    readonly db: Database,
    private readonly schema: Schema,
    readonly layout: Layout,
    readonly snapshotId: string,
  ) {}

  /** The number a count(*) query answers. */
  count(sql: string): number {
    return Number(scalar(this.db, sql));
  }

  /** The upload's own spelling of a table's name. */
  nameInUpload(name: string): string {
    return findTable(this.schema, name)!.name;
  }

  /** The upload's table, schema-qualified and quoted. */
  table(name: string): string {
    return `main.${ident(this.nameInUpload(name))}`;
  }

  /** The name that reaches the rowid of the upload's table. */
  rowid(name: string): string {
    return ident(findTable(this.schema, name)!.rowid!);
  }

  keepSetOf(name: string): KeepSet | undefined {
    return this.keepSets.get(name);
  }

  /** An empty keep set of `name`'s rows in `source`. Each is filled sorted, so SQLite appends. */
  keep(name: string, source = this.table(name), key?: string): string {
    const keep = `temp.keep_${this.made++}`;
    run(this.db, `CREATE TEMP TABLE ${keep.slice(5)}(r INTEGER PRIMARY KEY)`);
    this.keepSets.set(name, { keep, source, key });
    return keep;
  }

  /**
   * Keeps the rows of `name` whose `key` meets `condition`, found through the
   * upload's indexes; checkSelections counts them again from the table alone.
   */
  select(name: string, key: string, condition: string, params: SqlValue[] = []): string {
    const from = this.table(name);
    const keep = this.keep(name, from, key);
    const where = `${ident(key)} ${condition}`;
    run(this.db, `INSERT INTO ${keep} SELECT ${this.rowid(name)} FROM ${from} WHERE ${where} ORDER BY 1`, params);
    this.selections.push({ table: this.nameInUpload(name), found: this.db.getRowsModified(), from, where, params });
    return keep;
  }

  /**
   * A key set: temp table `set`(k) of the distinct values of `column` in the
   * rows `kept` of `name`. Read NOT INDEXED: a covering index's copy of the
   * column could be the damaged one.
   */
  keysOf(set: string, name: string, column: string, kept: string): string {
    run(this.db, `CREATE TEMP TABLE ${set}(k PRIMARY KEY) WITHOUT ROWID`);
    const keys = `temp.${set}`;
    run(this.db, `INSERT OR IGNORE INTO ${keys} SELECT ${ident(column)} FROM ${this.table(name)} NOT INDEXED WHERE ${this.rowid(name)} IN (SELECT r FROM ${kept}) ORDER BY 1`);
    return keys;
  }
}

/** What the snapshot reaches: keep sets (rowids of kept rows) and key sets (temp tables of keys, column k). */
interface Reached {
  /** Keep set: the snapshot_files rows of S. */
  snapshotFiles: string;
  /** Key set: the keys of S's files that exist. */
  fileKeys: string;
  /** Key set: the chunks of those files. */
  chunkKeys: string;
  /** Keep set: the chunks rows of those chunks. */
  chunks: string;
  /** Key set: the blobs holding those chunks. */
  blobKeys: string;
  /** Keep set: the blobs rows of those blobs. */
  blobs: string;
}

/** Keeps S's rows of the layout's tables, following its files to their chunks and blobs. */
function selectReachable(pruning: Pruning): Reached {
  const { layout } = pruning;
  const ofSnapshot = [pruning.snapshotId];
  pruning.select('snapshots', 'id', '= ?', ofSnapshot);
  const snapshotFiles = pruning.select('snapshot_files', 'snapshot_id', '= ?', ofSnapshot);

  // Files of S that exist; their keys drive every file-keyed table.
  const namedFiles = pruning.keysOf('k_named', 'snapshot_files', layout.fileRef.snapshot_files, snapshotFiles);
  const files = pruning.select('files', layout.fileKey, `IN (SELECT k FROM ${namedFiles})`);
  const fileKeys = pruning.keysOf('k_file', 'files', layout.fileKey, files);
  const fileChunks = pruning.select('file_chunks', layout.fileRef.file_chunks, `IN (SELECT k FROM ${fileKeys})`);
  pruning.select('chunk_files', layout.fileRef.chunk_files, `IN (SELECT k FROM ${fileKeys})`);

  // Chunks referenced by the kept file_chunks, and every blob_chunks row of them.
  const chunkKeys = pruning.keysOf('k_chunk', 'file_chunks', 'chunk_hash', fileChunks);
  const chunks = pruning.select('chunks', 'chunk_hash', `IN (SELECT k FROM ${chunkKeys})`);
  const blobChunks = pruning.select('blob_chunks', 'chunk_hash', `IN (SELECT k FROM ${chunkKeys})`);

  // Blobs from chunk reachability, never from snapshot_blobs: a fully
  // deduplicated snapshot uploaded no blobs yet needs older ones to restore.
  const blobKeys = pruning.keysOf('k_blob', 'blob_chunks', layout.blobRef, blobChunks);
  const blobs = pruning.select('blobs', layout.blobKey, `IN (SELECT k FROM ${blobKeys})`);
  return { snapshotFiles, fileKeys, chunkKeys, chunks, blobKeys, blobs };
}

/** Every exported table with its keep set; the layout's other tables, and agents' own, keep the rows of S. */
function keptTables(pruning: Pruning, exported: SchemaTable[], shapes: Map<string, DescribedTable>): KeptTable[] {
  const ofSnapshot = [pruning.snapshotId];
  return exported.map((table) => {
    const name = table.name.toLowerCase();
    if (!pruning.keepSetOf(name)) pruning.select(name, 'snapshot_id', '= ?', ofSnapshot);
    return { table, create: createTableSql(shapes.get(name)!.shape), ...pruning.keepSetOf(name)!, rows: 0 };
  });
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
    const name = table.name.toLowerCase();
    const known = Object.hasOwn(layout.tables, name);
    if (known || isSnapshotScoped(table)) {
      // The pruning compares these columns: they must use a collation SQLite has.
      const compared = new Set([...(known ? layout.tables[name] : []), 'snapshot_id']);
      shapes.set(name, describeTable(db, table, compared));
      exported.push(table);
    } else {
      skippedTables.push(table.name);
    }
  }
  return { exported, skippedTables, shapes };
}

/** A table outside the layout that the export keeps S's rows of. */
const isSnapshotScoped = (table: SchemaTable) => table.kind === 'table' && table.rowid !== undefined
  && !table.name.toLowerCase().startsWith('sqlite_') && table.columns.some((column) => column.toLowerCase() === 'snapshot_id');

/** The finished kept blobs' hashes, sorted, with their compressed sizes where the layout and the row have one. */
function keptBlobs(pruning: Pruning, kept: string) {
  const sizeColumn = pruning.layout.blobSize;
  const size = sizeColumn ? `b.${ident(sizeColumn)}` : 'NULL';
  const rows = all(pruning.db, `SELECT CAST(b.blob_hash AS TEXT), max(CASE WHEN typeof(${size}) = 'integer' AND ${size} >= 0 THEN ${size} END)
                        FROM ${kept} k JOIN ${pruning.table('blobs')} b ON b.${pruning.rowid('blobs')} = k.r
                        WHERE b.blob_hash IS NOT NULL GROUP BY 1 ORDER BY 1`) as [string, number | null][];
  const sized = rows.filter((row): row is [string, number] => row[1] !== null);
  return { blobs: rows.map(([hash]) => hash), blobSizes: sizeColumn ? Object.fromEntries(sized) : undefined };
}

function findSnapshot(db: Database, snapshotId: string): Plan['snapshot'] {
  const rows = all(db, 'SELECT id, hostname, started_at, completed_at FROM main.snapshots WHERE id = ?', [snapshotId]);
  if (rows.length === 0) throw snapshotNotFound(db, snapshotId);
  // The id as stored: an upload's own collation may match an id spelled differently.
  const [id, hostname, startedAt, completedAt] = rows[0];
  if (completedAt === null) {
    throw new SnapmetaError('SNAPSHOT_INCOMPLETE', `snapshot ${JSON.stringify(snapshotId)} is still running (completed_at is NULL): export it once the backup has finished`);
  }
  return { id: String(id), hostname: String(hostname), startedAt: toNumber(startedAt), completedAt: toNumber(completedAt) };
}

/** SNAPSHOT_NOT_FOUND, naming how many snapshots the upload has and the latest three. */
function snapshotNotFound(db: Database, snapshotId: string): SnapmetaError {
  const count = Number(scalar(db, 'SELECT count(*) FROM main.snapshots'));
  const latest = (all(db, 'SELECT id FROM main.snapshots ORDER BY started_at DESC LIMIT 3') as [string][]).map(([id]) => JSON.stringify(id));
  return new SnapmetaError('SNAPSHOT_NOT_FOUND', `snapshot ${JSON.stringify(snapshotId)} is not in the index` +
    (count ? ` (it has ${count} snapshot${count === 1 ? '' : 's'}, latest ${latest.join(', ')})` : ' (it has no snapshots)'));
}

const toNumber = (value: unknown) => (typeof value === 'number' ? value : value === null ? null : Number(value));

/** Where snapshot_blobs rows of S are gathered before they are kept: a temp table of our own making. */
const GATHERED = 'temp.snapmeta_snapshot_blobs';

/**
 * Exactly one snapshot_blobs row of S per kept blob: S's own rows, plus one
 * for each kept blob S has none for. They are gathered in a temp table
 * written from the shape, so none of the upload's CHECK or DEFAULT
 * expressions runs (docs/design.md, "snapshot_blobs backfill").
 */
function backfillSnapshotBlobs(pruning: Pruning, shape: TableShape, blobs: string): void {
  pruning.selections.push(gatherOwnSnapshotBlobs(pruning, shape, blobs));
  gatherMissingSnapshotBlobs(pruning, shape, blobs);
  run(pruning.db, `INSERT INTO ${pruning.keep('snapshot_blobs', GATHERED)} SELECT ${pruning.rowid('snapshot_blobs')} FROM ${GATHERED} ORDER BY 1`);
}

/** Creates the gathering table and copies S's own rows of the kept blobs into it, rowids and all; returns how they were selected. */
function gatherOwnSnapshotBlobs(pruning: Pruning, shape: TableShape, blobs: string): Selection {
  const { db, layout, snapshotId } = pruning;
  // No NOT NULL: a NULL S's own rows carry is the dump's to report, with the
  // column (checkFillable covers the rows added here).
  run(db, createTableSql(shape, { name: GATHERED, foreignKeys: false, notNull: false }));
  // Its unique indexes too, so a row the restore would refuse is refused here.
  shape.indexes.filter((index) => index.unique)
    .forEach((index, position) => run(db, createIndexSql(shape, index, `temp.snapmeta_snapshot_blobs_u${position}`, 'snapmeta_snapshot_blobs')));
  const rowid = pruning.rowid('snapshot_blobs');
  const from = pruning.table('snapshot_blobs');
  const columns = shape.columns.map((column) => ident(column.name)).join(', ');
  const keptBlobKeys = `SELECT b.${ident(layout.blobKey)} FROM ${blobs} k JOIN ${pruning.table('blobs')} b ON b.${pruning.rowid('blobs')} = k.r`;
  const where = `snapshot_id = ? AND ${ident(layout.blobRef)} IN (${keptBlobKeys})`;
  run(db, `INSERT INTO ${GATHERED} (${rowid}, ${columns}) SELECT ${rowid}, ${columns} FROM ${from}
           WHERE ${where} ORDER BY 1`, [snapshotId]);
  return { table: shape.name, found: db.getRowsModified(), from, where, params: [snapshotId] };
}

/**
 * Adds a row for each finished kept blob S has none for, numbered as SQLite
 * numbers them after the native pipeline's DELETEs, in blob order.
 */
function gatherMissingSnapshotBlobs(pruning: Pruning, shape: TableShape, blobs: string): void {
  const { db, layout, snapshotId } = pruning;
  const blobRef = ident(layout.blobRef);
  run(db, `CREATE INDEX temp.snapmeta_snapshot_blobs_ref ON snapmeta_snapshot_blobs (${blobRef})`);
  // A row that names its blob by id (v2) carries the blob's hash too.
  const withHash = layout.blobRef !== 'blob_hash';
  const missing = `FROM ${blobs} k JOIN ${pruning.table('blobs')} b ON b.${pruning.rowid('blobs')} = k.r
           WHERE b.blob_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${GATHERED} x WHERE x.${blobRef} = b.${ident(layout.blobKey)})`;
  checkFillable(db, shape, [layout.blobRef, ...(withHash ? ['blob_hash'] : [])], missing);
  const rowid = pruning.rowid('snapshot_blobs');
  run(db, `INSERT INTO ${GATHERED} (${rowid}, snapshot_id, ${blobRef}${withHash ? ', blob_hash' : ''})
           SELECT ${nextRowid(shape, rowid, GATHERED)} + row_number() OVER (ORDER BY k.r),
                  ?, b.${ident(layout.blobKey)}${withHash ? ', b.blob_hash' : ''}
           ${missing} ORDER BY k.r`, [snapshotId]);
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
  const unfillable = shape.columns.find((column) => column.notNull && column.default === undefined && !filled.has(column.name.toLowerCase())
    && !(column.primaryKey && !column.primaryKey.desc));
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
  return shape.columns.some((column) => column.primaryKey?.autoincrement)
    ? `max(${last}, coalesce((SELECT seq FROM main.sqlite_sequence WHERE name = ${sqlText(shape.name)}), 0))`
    : last;
}

/** Inconsistencies in the agent's database that would hurt a restore: reported, not fatal. */
function collectWarnings(pruning: Pruning, reached: Reached): string[] {
  const { layout } = pruning;
  const warnings: string[] = [];
  const missingFiles = pruning.count(`SELECT count(*) FROM ${pruning.table('snapshot_files')} WHERE ${pruning.rowid('snapshot_files')} IN (SELECT r FROM ${reached.snapshotFiles})
                              AND ${ident(layout.fileRef.snapshot_files)} NOT IN (SELECT k FROM ${reached.fileKeys})`);
  if (missingFiles) warnings.push(`${missingFiles} snapshot_files rows of the snapshot name files that are not in the files table`);
  const missingChunks = countMissingChunks(pruning, reached);
  if (missingChunks) warnings.push(`${missingChunks} chunks used by the snapshot's files are not in the chunks table`);
  const unstored = countUnstoredChunks(pruning, reached);
  if (unstored) warnings.push(`${unstored} chunks used by the snapshot's files are in no finished blob: those files cannot be restored`);
  const unfinished = pruning.count(`SELECT count(*) FROM ${reached.blobs} k JOIN ${pruning.table('blobs')} b ON b.${pruning.rowid('blobs')} = k.r WHERE b.blob_hash IS NULL`);
  if (unfinished) warnings.push(`${unfinished} blobs holding the snapshot's chunks have no blob_hash (unfinished)`);
  return warnings;
}

/** Chunks S's files use that the chunks table lacks. */
function countMissingChunks(pruning: Pruning, reached: Reached): number {
  // With chunk_hash unique (its primary key in both layouts), every chunk found is one kept row.
  return uniqueIndexes(pruning.db, pruning.nameInUpload('chunks')).some((index) => isBinaryKeyOn(index.keys, 'chunk_hash'))
    ? pruning.count(`SELECT count(*) FROM ${reached.chunkKeys}`) - pruning.count(`SELECT count(*) FROM ${reached.chunks}`)
    : pruning.count(`SELECT count(*) FROM ${reached.chunkKeys} WHERE k NOT IN (SELECT chunk_hash FROM ${pruning.table('chunks')})`);
}

/** Chunks S's files use that sit in no finished blob. */
function countUnstoredChunks(pruning: Pruning, reached: Reached): number {
  const { layout } = pruning;
  const blobs = pruning.table('blobs');
  const blobChunks = pruning.table('blob_chunks');
  // Usually every blob the kept chunks sit in exists and is finished; then a
  // chunk is stored as soon as it has a blob_chunks row, which its index
  // answers without reading any row.
  const allBlobsFinished = !pruning.count(`SELECT count(*) FROM ${reached.blobKeys} kb WHERE NOT EXISTS (
      SELECT 1 FROM ${blobs} b WHERE b.${ident(layout.blobKey)} = kb.k AND b.blob_hash IS NOT NULL)`);
  return pruning.count(allBlobsFinished
    ? `SELECT count(*) FROM ${reached.chunkKeys} c WHERE NOT EXISTS (SELECT 1 FROM ${blobChunks} bc WHERE bc.chunk_hash = c.k)`
    : `SELECT count(*) FROM ${reached.chunkKeys} c WHERE NOT EXISTS (
      SELECT 1 FROM ${blobChunks} bc JOIN ${blobs} b ON b.${ident(layout.blobKey)} = bc.${ident(layout.blobRef)}
      WHERE bc.chunk_hash = c.k AND b.blob_hash IS NOT NULL)`);
}
