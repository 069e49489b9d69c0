// The two layouts of backup database we accept (lib/sample/schemas/*.sql),
// recognised by their columns, never by column order: agents may add columns,
// indexes and tables.
import { SnapmetaError } from './errors.ts';
import { all, type Database } from './sqlite.ts';

/**
 * Each layout's name, as manifests carry it (`layout: "v2-id-keyed"`), by its
 * short name, as `--layout v1|v2` and the sample generator spell it.
 */
export const LAYOUT_NAMES = { v1: 'v1-path-keyed', v2: 'v2-id-keyed' } as const;

export type LayoutShortName = keyof typeof LAYOUT_NAMES;
export type LayoutName = (typeof LAYOUT_NAMES)[LayoutShortName];

export interface Layout {
  name: LayoutName;
  /** Required columns of every table the layout defines. */
  tables: Record<string, readonly string[]>;
  /** The key of a file, and how each mapping table refers to it. */
  fileKey: string;
  fileRef: { snapshot_files: string; file_chunks: string; chunk_files: string };
  /** The key of a blob, and how blob_chunks / snapshot_blobs refer to it. */
  blobKey: string;
  blobRef: string;
  /** The blobs column holding a blob's size as stored (compressed), where the layout has one. */
  blobSize?: string;
}

export const LAYOUTS: readonly Layout[] = [
  {
    name: LAYOUT_NAMES.v1,
    tables: {
      files: ['path', 'mtime', 'ctime', 'size', 'mode', 'uid', 'gid', 'link_target'],
      chunks: ['chunk_hash', 'sha256', 'size'],
      file_chunks: ['path', 'idx', 'chunk_hash'],
      chunk_files: ['chunk_hash', 'file_path', 'file_offset', 'length'],
      blobs: ['blob_hash', 'created_ts'],
      blob_chunks: ['blob_hash', 'chunk_hash', 'offset', 'length'],
      snapshots: ['id', 'hostname', 'vaultik_version', 'started_at', 'completed_at', 'file_count', 'chunk_count',
        'blob_count', 'total_size', 'blob_size', 'compression_ratio'],
      snapshot_files: ['snapshot_id', 'file_path'],
      snapshot_blobs: ['snapshot_id', 'blob_hash'],
    },
    fileKey: 'path',
    fileRef: { snapshot_files: 'file_path', file_chunks: 'path', chunk_files: 'file_path' },
    blobKey: 'blob_hash',
    blobRef: 'blob_hash',
  },
  {
    name: LAYOUT_NAMES.v2,
    tables: {
      files: ['id', 'path', 'source_path', 'mtime', 'size', 'mode', 'uid', 'gid', 'link_target'],
      chunks: ['chunk_hash', 'size'],
      file_chunks: ['file_id', 'idx', 'chunk_hash'],
      chunk_files: ['chunk_hash', 'file_id', 'file_offset', 'length'],
      blobs: ['id', 'blob_hash', 'created_ts', 'finished_ts', 'uncompressed_size', 'compressed_size', 'uploaded_ts'],
      blob_chunks: ['blob_id', 'chunk_hash', 'offset', 'length'],
      snapshots: ['id', 'hostname', 'vaultik_version', 'vaultik_git_revision', 'started_at', 'completed_at',
        'file_count', 'chunk_count', 'blob_count', 'total_size', 'blob_size', 'blob_uncompressed_size',
        'compression_ratio', 'compression_level', 'upload_bytes', 'upload_duration_ms'],
      snapshot_files: ['snapshot_id', 'file_id'],
      snapshot_blobs: ['snapshot_id', 'blob_id', 'blob_hash'],
      uploads: ['blob_hash', 'snapshot_id', 'uploaded_at', 'size', 'duration_ms'],
    },
    fileKey: 'id',
    fileRef: { snapshot_files: 'file_id', file_chunks: 'file_id', chunk_files: 'file_id' },
    blobKey: 'id',
    blobRef: 'blob_id',
    blobSize: 'compressed_size',
  },
];

/** A table of the uploaded database, as SQLite's own pragmas classify it. */
export interface SchemaTable {
  name: string;
  /** pragma_table_list's type: a virtual table's columns are never read (its module may be absent). */
  kind: 'table' | 'virtual' | 'shadow';
  /** Stored columns in order, without hidden or generated ones (reading a VIRTUAL one evaluates it). */
  columns: string[];
  withoutRowid: boolean;
  /** A STRICT table: its types are checked, and "ANY" keeps every value as given. */
  strict: boolean;
  /** The name that reaches the rowid (a column may shadow "rowid"). */
  rowid: string | undefined;
}

export interface Schema {
  /** Tables in schema order (views are not tables). */
  tables: SchemaTable[];
}

/**
 * The tables of the upload, classified by pragma_table_list and
 * pragma_table_xinfo: SQLite's parse of the schema, not our reading of its
 * text (which comments and quoting can disguise).
 */
export function readSchema(db: Database): Schema {
  const rows = all(db, `SELECT l.name, l.type, l.wr, l.strict FROM main.sqlite_schema s
    JOIN pragma_table_list l ON l.schema = 'main' AND l.name = s.name
    WHERE s.type = 'table' AND l.type IN ('table', 'virtual', 'shadow') ORDER BY s.rowid`) as [string, SchemaTable['kind'], number, number][];
  const tables = rows.map(([name, kind, wr, strict]): SchemaTable => {
    // hidden: 1 for a virtual table's hidden columns, 2/3 for generated ones.
    const info = kind === 'table' ? all(db, `SELECT name, hidden FROM pragma_table_xinfo(?, 'main')`, [name]) as [string, number][] : [];
    const columns = info.filter(([, hidden]) => hidden === 0).map(([column]) => column);
    const names = new Set(info.map(([column]) => column.toLowerCase()));
    const withoutRowid = wr === 1;
    const rowid = withoutRowid || kind !== 'table' ? undefined : ['rowid', '_rowid_', 'oid'].find((alias) => !names.has(alias));
    return { name, kind, columns, withoutRowid, strict: strict === 1, rowid };
  });
  return { tables };
}

/** The table named `name` (lower case), however the upload spells it. */
export function findTable(schema: Schema, name: string): SchemaTable | undefined {
  return schema.tables.find((table) => table.name.toLowerCase() === name);
}

/** What the schema lacks of the layout's tables and columns, one phrase each. */
function missingFor(schema: Schema, layout: Layout): string[] {
  const missing: string[] = [];
  for (const [table, columns] of Object.entries(layout.tables)) {
    const found = findTable(schema, table);
    if (!found || found.kind !== 'table') {
      missing.push(found ? `table ${table} (${found.name} is a ${found.kind} table)` : `table ${table}`);
      continue;
    }
    const have = new Set(found.columns.map((column) => column.toLowerCase()));
    for (const column of columns) if (!have.has(column)) missing.push(`column ${table}.${column}`);
  }
  return missing;
}

/**
 * Which layout this database has. Throws SnapmetaError UNKNOWN_LAYOUT naming
 * what is missing for the closest layout (its first eight), or a layout table
 * that has no rowid to reach.
 */
export function detectLayout(schema: Schema): Layout {
  const candidates = LAYOUTS.map((layout) => ({ layout, missing: missingFor(schema, layout) }))
    .sort((a, b) => a.missing.length - b.missing.length);
  const best = candidates[0];
  if (best.missing.length > 0) {
    const shown = best.missing.slice(0, 8).join(', ') + (best.missing.length > 8 ? `, and ${best.missing.length - 8} more` : '');
    throw new SnapmetaError('UNKNOWN_LAYOUT', `the index matches no known layout; closest is ${best.layout.name}, missing ${shown}`);
  }
  for (const table of Object.keys(best.layout.tables)) {
    const found = findTable(schema, table)!;
    if (!found.rowid) {
      const what = found.withoutRowid ? 'WITHOUT ROWID' : 'without a name for its rowid';
      throw new SnapmetaError('UNKNOWN_LAYOUT', `table ${table} is ${what}, which the ${best.layout.name} layout does not allow`);
    }
  }
  return best.layout;
}

