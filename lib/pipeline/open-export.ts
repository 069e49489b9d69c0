// Opening an upload for export: bytes → SQLite in memory → layout → checks →
// the plan of rows to keep. Everything that can reject the input happens here,
// before anything is written.
import { SnapmetaError } from '../core/errors.ts';
import { dumpSql, type DumpProgress } from '../core/dump.ts';
import { sqliteBytes, HARD_MAX_INDEX_BYTES } from '../core/index-bytes.ts';
import { detectLayout, readSchema, type LayoutName } from '../core/layout.ts';
import { buildPlan, type Plan } from '../core/prune.ts';
import { sqliteImage } from '../core/image.ts';
import { isCorruptionMessage, loadSqlJs, type Database, type SqlJsStatic } from '../core/sqlite.ts';

export interface ExportJob {
  layout: LayoutName;
  snapshot: Plan['snapshot'];
  rows: Record<string, number>;
  blobs: string[];
  blobSizes?: Record<string, number>;
  skippedTables: string[];
  /** What the exported schema leaves out of the upload's (generated columns, expression defaults and indexes…). */
  schemaChanges: string[];
  warnings: string[];
  bytesIn: number;
  /** Size of the plain SQLite database (after zstd, for a .db.zst upload). */
  indexBytes: number;
  timings: Record<string, number>;
  /** The pruned database as .dump-shaped SQL, in chunks ending on statement boundaries. */
  dump(onRows?: (p: DumpProgress) => void): Generator<Uint8Array>;
  /** The pruned database as a SQLite file with no free page, in pieces (the dump replayed; see core/image.ts). */
  image(onRows?: (p: DumpProgress) => void): Generator<Uint8Array>;
  close(): void;
}

export interface OpenOptions {
  snapshotId: string;
  maxIndexBytes?: number;
}

export async function openExport(input: Uint8Array, opts: OpenOptions): Promise<ExportJob> {
  const t0 = performance.now();
  const bytes = await sqliteBytes(input, opts.maxIndexBytes ?? HARD_MAX_INDEX_BYTES);
  const SQL = await loadSqlJs();
  const db = withLegacyJournalHeader(bytes, (b) => new SQL.Database(b));
  try {
    return sqliteErrors(() => {
      const t1 = performance.now();
      // Nothing here needs a rollback journal. The file is in memory already,
      // so the page cache only saves copying pages out of it: 16 MiB pruned
      // and dumped a 1 GB index as fast as 64 MiB did.
      db.run('PRAGMA main.journal_mode=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384');
      const schema = readSchema(db);
      const layout = detectLayout(schema);
      const plan = buildPlan(db, schema, layout, opts.snapshotId);
      const t2 = performance.now();
      return job(SQL, db, plan, layout.name, input.byteLength, bytes.byteLength, { load: t1 - t0, prune: t2 - t1 });
    });
  } catch (err) {
    db.close();
    throw err;
  }
}

function job(SQL: SqlJsStatic, db: Database, plan: Plan, layout: LayoutName, bytesIn: number, indexBytes: number, timings: Record<string, number>): ExportJob {
  let closed = false;
  return {
    layout,
    snapshot: plan.snapshot,
    rows: Object.fromEntries(plan.tables.map((t) => [t.table.name, t.rows])),
    blobs: plan.blobs,
    blobSizes: plan.blobSizes,
    skippedTables: plan.skippedTables,
    schemaChanges: plan.schemaChanges,
    warnings: plan.warnings,
    bytesIn,
    indexBytes,
    timings,
    *dump(onRows) {
      yield* sqliteErrorsGen(dumpSql(db, plan, onRows));
    },
    *image(onRows) {
      // Room for every kept row: a subset of the index, rebuilt densely.
      const capacity = indexBytes + indexBytes / 2 + (16 << 20);
      yield* sqliteErrorsGen(sqliteImage(SQL, dumpSql(db, plan, onRows), capacity));
    },
    close() {
      if (!closed) db.close();
      closed = true;
    },
  };
}

/**
 * A WAL-mode header (bytes 18-19 = 2) makes SQLite look for a -wal file that an
 * upload never has; open it as a rollback-journal database instead. The bytes
 * are restored afterwards since they may be the caller's.
 */
function withLegacyJournalHeader<T>(bytes: Uint8Array, open: (b: Uint8Array) => T): T {
  const wal = bytes[18] === 2 && bytes[19] === 2;
  if (wal) bytes[18] = bytes[19] = 1;
  try {
    return open(bytes);
  } finally {
    if (wal) bytes[18] = bytes[19] = 2;
  }
}

/**
 * SQLite refusing the upload is the upload's fault, whatever it says (damaged
 * pages, an unsupported file format, a constraint of the agent's own schema):
 * a permanent error with its message, never a retry. Only JS errors of other
 * kinds (our own bugs) pass through.
 */
function toSnapmetaError(err: unknown): unknown {
  if (err instanceof SnapmetaError || !(err instanceof Error) || err.constructor !== Error) return err;
  if (/out of memory/i.test(err.message)) {
    return new SnapmetaError('INDEX_TOO_LARGE', `the index needs more memory than this export has: ${err.message}`, { cause: err });
  }
  const what = isCorruptionMessage(err.message) ? 'is corrupt' : 'cannot be read';
  return new SnapmetaError('CORRUPT', `the index database ${what}: ${err.message}`, { cause: err });
}

function sqliteErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toSnapmetaError(err);
  }
}

function* sqliteErrorsGen<T>(gen: Generator<T>): Generator<T> {
  try {
    yield* gen;
  } catch (err) {
    throw toSnapmetaError(err);
  }
}
