// The best native pipeline we know, the anchor beside the seed's: instead of
// copying the index and deleting row by row, the sqlite3 tool opens a fresh
// database, ATTACHes the index, creates the tables it keeps, copies the kept
// rows forward with INSERT … SELECT through the index's own indexes, builds
// the secondary indexes once the rows are in (one sort each, not an insert at
// random per row), and then streams `.dump | zstd -3 -T0 | age -r` as the seed
// pipeline does. The rows kept are the seed pipeline's (test/support/native-prune.ts),
// which are our export's (lib/prune.ts buildPlan).
import { join } from 'node:path';
import type { LayoutShortName } from '../lib/core/layout.ts';
import { KEYS, RULED, tableFates, toIndexObjects, type IndexObjects } from '../test/support/native-prune.ts';
import { ident, sqlText } from '../lib/core/sql-text.ts';
import { sqliteJson } from '../test/support/sqlite-cli.ts';
import { measure } from './measure.ts';
import { streamDump } from './native.ts';

export interface CopyForwardRun {
  wallMs: number;
  /** No `cp`: the index is read where it lies. */
  stages: { 'copy-forward': number; 'dump|zstd|age': number };
  /** Inside copy-forward, as the sqlite3 tool's `.timer` reports each statement. */
  parts: { rows: number; indexes: number };
  /** CPU time of each tool (the three of the stream run at once). */
  cpuMs: { 'copy-forward': number; dump: number; zstd: number; age: number };
  /** The larger of the copy-forward and the stream's three processes together. */
  peakRssBytes: number;
  outputBytes: number;
  /** The fresh database, kept for the content check. */
  prunedDb: string;
}

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
  columns: string | null;
}

/** The index's schema objects, in the order it created them. */
export interface SourceSchema {
  objects: IndexObjects;
  rows: SchemaRow[];
}

export function readSourceSchema(index: string): SourceSchema {
  const rows = sqliteJson<SchemaRow>(index, `
    SELECT type, name, tbl_name, sql, CASE WHEN type = 'table' THEN
      (SELECT json_group_array(c.name) FROM pragma_table_info(s.name) c) END AS columns
    FROM sqlite_schema s ORDER BY rowid`);
  return { rows, objects: toIndexObjects(rows) };
}

const lower = (s: string) => s.toLowerCase();

/** The fresh database's page cache: 256 MiB (it grows only as used). */
const CACHE_KIB = 256 * 1024;

/**
 * Which rows of each RULED table are kept, as a WHERE clause on the index's
 * table (src) that reads the keys from the tables already copied (main). Each
 * IN (SELECT …) becomes a list of keys SQLite seeks in the index's own indexes.
 */
function keptRows(layout: LayoutShortName, S: string): Record<string, string> {
  const k = KEYS[layout];
  return {
    snapshots: `id = ${S}`,
    snapshot_files: `snapshot_id = ${S}`,
    files: `${k.file} IN (SELECT ${k.snapshotFilesRef} FROM main.snapshot_files)`,
    file_chunks: `${k.fileChunksRef} IN (SELECT ${k.file} FROM main.files)`,
    chunk_files: `${k.chunkFilesRef} IN (SELECT ${k.file} FROM main.files)`,
    chunks: 'chunk_hash IN (SELECT chunk_hash FROM main.file_chunks)',
    blob_chunks: 'chunk_hash IN (SELECT chunk_hash FROM main.file_chunks)',
    // In the index's order, so the snapshot_blobs rows added below are numbered as the seed pipeline numbers them.
    blobs: `${k.blob} IN (SELECT ${k.blobRef} FROM main.blob_chunks) ORDER BY rowid`,
    snapshot_blobs: `snapshot_id = ${S} AND ${k.blobRef} IN (SELECT ${k.blob} FROM main.blobs)`,
  };
}

/** One snapshot_blobs row of S for every kept (finished, in v2) blob S has none for: the seed pipeline's INSERT. */
function addedSnapshotBlobs(layout: LayoutShortName, S: string): string {
  const k = KEYS[layout];
  const v2 = layout === 'v2';
  return `INSERT INTO main.snapshot_blobs (snapshot_id, ${k.blobRef}${v2 ? ', blob_hash' : ''})
  SELECT ${S}, b.${k.blob}${v2 ? ', b.blob_hash' : ''} FROM main.blobs b
  WHERE ${v2 ? 'b.blob_hash IS NOT NULL AND ' : ''}NOT EXISTS (
    SELECT 1 FROM main.snapshot_blobs sb WHERE sb.snapshot_id = ${S} AND sb.${k.blobRef} = b.${k.blob})
  ORDER BY b.rowid;`;
}

/** The tables the seed pipeline keeps, in the index's order, with the rows each keeps (undefined: all). */
function keptTables(layout: LayoutShortName, S: string, source: SourceSchema): { name: string; columns: string[]; where?: string }[] {
  const { bySnapshot, dropped } = tableFates(layout, source.objects);
  const gone = new Set(dropped.map((t) => lower(t.name)));
  const snapshotScoped = new Set(bySnapshot.map((t) => lower(t.name)));
  const ruled = keptRows(layout, S);
  const kept = source.objects.tables.filter((t) => !gone.has(lower(t.name)) && !/^sqlite_/i.test(t.name));
  const where = (name: string) => ruled[lower(name)] ?? (snapshotScoped.has(lower(name)) ? `snapshot_id = ${S}` : undefined);
  const tables = kept.map((t) => ({ ...t, where: where(t.name) }));
  // Each ruled table's keys come from the ruled tables before it.
  const rank = (name: string) => (RULED.includes(lower(name)) ? RULED.indexOf(lower(name)) : RULED.length);
  return [...tables].sort((a, b) => rank(a.name) - rank(b.name));
}

/**
 * The copy-forward script, run by `sqlite3 <fresh.db>`. `.print` marks where
 * the rows end and the indexes begin, for the `.timer` lines of each statement.
 */
export function copyForwardSql(layout: LayoutShortName, index: string, snapshotId: string, source: SourceSchema): string {
  const S = sqlText(snapshotId);
  const tables = keptTables(layout, S, source);
  const keptNames = new Set(tables.map((t) => lower(t.name)));
  const created = source.rows.filter((r) => r.type === 'table' && keptNames.has(lower(r.name)));
  const virtual = created.find((r) => /^CREATE\s+VIRTUAL/i.test(r.sql ?? ''));
  if (virtual) throw new Error(`copy-forward: virtual table ${virtual.name} is not supported`);
  const indexes = source.rows.filter((r) => r.type === 'index' && r.sql && keptNames.has(lower(r.tbl_name)));
  const copy = tables.map((t) => {
    const cols = t.columns.map(ident).join(', ');
    const name = ident(t.name);
    return `INSERT INTO main.${name} (${cols}) SELECT ${cols} FROM src.${name}${t.where ? ` WHERE ${t.where}` : ''};`
      + (lower(t.name) === 'snapshot_blobs' ? `\n${addedSnapshotBlobs(layout, S)}` : '');
  });
  // AUTOINCREMENT counters go forward too: the seed pipeline's copy keeps them.
  const counters = created.some((r) => /\bAUTOINCREMENT\b/i.test(r.sql!))
    ? [`INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM src.sqlite_sequence WHERE lower(name) IN (${[...keptNames].map(sqlText).join(', ')});`]
    : [];
  return [
    // A scratch database: nothing to roll back or to survive a crash.
    'PRAGMA journal_mode = OFF;',
    'PRAGMA synchronous = OFF;',
    // Some primary keys (chunk_files', blob_chunks') fill in another order
    // than their rows arrive: with SQLite's default 2 MB cache, a large index's
    // inserts would mostly evict a page to the file and read one back (a 30 MB
    // index with its cache cut to the same share copied 30-50 % slower, on a
    // busy machine). A bulk load gets a cache that holds what it builds.
    `PRAGMA cache_size = -${CACHE_KIB};`,
    `ATTACH ${sqlText(index)} AS src;`,
    'BEGIN;',
    ...created.map((r) => `${r.sql};`),
    ...counters,
    '.timer on',
    '.print @rows',
    ...copy,
    '.print @indexes',
    ...indexes.map((r) => `${r.sql};`),
    '.print @end',
    '.timer off',
    'COMMIT;',
    '',
  ].join('\n');
}

/** Seconds of "Run Time: real …" lines between two `.print` marks, in ms. */
function timed(stdout: string, from: string, to: string): number {
  const start = stdout.indexOf(`${from}\n`);
  const end = stdout.indexOf(`${to}\n`, start);
  if (start < 0 || end < 0) throw new Error(`copy-forward: no ${from} … ${to} in sqlite3's output`);
  const lines = stdout.slice(start, end).matchAll(/^Run Time: real ([\d.]+)/gm);
  return [...lines].reduce((sum, m) => sum + Number(m[1]) * 1000, 0);
}

export function runCopyForward(index: string, layout: LayoutShortName, snapshotId: string, recipient: string, dir: string): CopyForwardRun {
  const prunedDb = join(dir, 'copy-forward.db');
  // Reading the index's schema is not timed: an expert writes these statements once for their schema.
  const script = copyForwardSql(layout, index, snapshotId, readSourceSchema(index));
  const copy = measure('sqlite3', ['-batch', '-bail', prunedDb], { input: script });
  const stream = streamDump(prunedDb, recipient, join(dir, 'copy-forward.db.zst.age'));
  return {
    wallMs: copy.wallMs + stream.wallMs,
    stages: { 'copy-forward': copy.wallMs, 'dump|zstd|age': stream.wallMs },
    parts: { rows: timed(copy.stdout, '@rows', '@indexes'), indexes: timed(copy.stdout, '@indexes', '@end') },
    cpuMs: { 'copy-forward': copy.cpuMs, ...stream.cpuMs },
    peakRssBytes: Math.max(copy.peakRssBytes, stream.peakRssBytes),
    outputBytes: stream.outputBytes,
    prunedDb,
  };
}
