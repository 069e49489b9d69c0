// Opening an upload for export: bytes → SQLite in memory → layout → checks →
// the plan of rows to keep. Everything that can reject the input happens here,
// before anything is written.
import { ageEncryptStream } from '../codecs/age.ts';
import { asBuffer } from '../codecs/bytes.ts';
import { compressedStream, newClock, type StageClock } from '../codecs/zstd-stream.ts';
import { SnapmetaError } from '../core/errors.ts';
import { dumpSql, type DumpProgress } from '../core/dump.ts';
import { sqliteBytes, HARD_MAX_INDEX_BYTES } from '../core/index-bytes.ts';
import { detectLayout, readSchema, type LayoutName } from '../core/layout.ts';
import type { DbFormat } from '../core/manifest.ts';
import { buildPlan, type Plan } from '../core/prune.ts';
import { sqliteImage } from '../core/image.ts';
import { isCorruptionMessage, loadSqlJs, type Database, type SqlJsStatic } from '../core/sqlite.ts';

/** What publishing needs of an opened export, whether it runs here or in a worker thread. */
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
  /** The pruned database, dumped or imaged, zstd-compressed and age-encrypted, as it is produced. */
  output(opts: OutputOptions): Promise<ExportOutput>;
  close(): void;
}

export interface OutputOptions {
  format: DbFormat;
  level: number;
  recipients: string[];
  onRows?: (p: DumpProgress) => void;
  signal?: AbortSignal;
}

export interface ExportOutput {
  stream: ReadableStream<Uint8Array>;
  /** Time per stage, complete once the stream has ended. */
  clock: StageClock;
}

/** An export opened in this thread: the pruned database can also be read as plain SQL or an image. */
export interface OpenedExport extends ExportJob {
  /** The pruned database as .dump-shaped SQL, in chunks ending on statement boundaries. */
  dump(onRows?: (p: DumpProgress) => void): Generator<Uint8Array>;
  /** The pruned database as a SQLite file with no free page, in pieces (the dump replayed; see core/image.ts). */
  image(onRows?: (p: DumpProgress) => void): Generator<Uint8Array>;
}

export type OpenStage = 'decompress' | 'load' | 'prune';

export interface OpenOptions {
  snapshotId: string;
  maxIndexBytes?: number;
  /** Told as each stage starts, so a caller can say which one a deadline stopped. */
  onStage?: (stage: OpenStage) => void;
}

/**
 * The upload as openExport takes it: bytes it may keep (the CLI's file), or
 * bytes handed over for good (handOver), which it drops once they are inflated
 * so that a .db.zst and its index are never both held while the index opens.
 */
export type ExportInput = Uint8Array | (() => Uint8Array);

/** Bytes for openExport to take once; whoever handed them over keeps no reference. */
export function handOver(bytes: Uint8Array): () => Uint8Array {
  let held: Uint8Array | undefined = bytes;
  return () => {
    if (!held) throw new Error('the upload was already taken');
    const taken = held;
    held = undefined;
    return taken;
  };
}

export async function openExport(input: ExportInput, opts: OpenOptions): Promise<OpenedExport> {
  const t0 = performance.now();
  opts.onStage?.('decompress');
  const { bytes, bytesIn } = await plainIndex(input, opts.maxIndexBytes ?? HARD_MAX_INDEX_BYTES);
  const SQL = await loadSqlJs();
  opts.onStage?.('load');
  // sql.js keeps the array it is given as its file through the array's slice():
  // a Buffer's is a view, any other typed array's a copy of the whole index
  // (bytes posted to a worker arrive as a plain Uint8Array).
  const db = sqliteErrors(() => withLegacyJournalHeader(asBuffer(bytes), (b) => new SQL.Database(b)));
  try {
    return sqliteErrors(() => {
      const t1 = performance.now();
      opts.onStage?.('prune');
      // Nothing here needs a rollback journal; the file is in memory already (docs/design.md, "Opening").
      db.run('PRAGMA main.journal_mode=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384');
      const schema = readSchema(db);
      const layout = detectLayout(schema);
      const plan = buildPlan(db, schema, layout, opts.snapshotId);
      const t2 = performance.now();
      return job(SQL, db, plan, layout.name, bytesIn, bytes.byteLength, { load: t1 - t0, prune: t2 - t1 });
    });
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * The plain SQLite bytes of an upload. A function of its own so that no frame
 * of openExport's holds a handed-over upload once it is inflated.
 */
async function plainIndex(input: ExportInput, maxBytes: number): Promise<{ bytes: Uint8Array; bytesIn: number }> {
  const upload = typeof input === 'function' ? input() : input;
  return { bytes: await sqliteBytes(upload, maxBytes), bytesIn: upload.byteLength };
}

function job(SQL: SqlJsStatic, db: Database, plan: Plan, layout: LayoutName, bytesIn: number, indexBytes: number, timings: Record<string, number>): OpenedExport {
  let closed = false;
  const opened: OpenedExport = {
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
    async output({ format, level, recipients, onRows, signal }) {
      const clock = newClock();
      const chunks = format === 'sql' ? opened.dump(onRows) : opened.image(onRows);
      const compressed = compressedStream(chunks, level, clock, signal);
      const stream = await ageEncryptStream(compressed, recipients, (ms) => (clock.encrypt += ms));
      return { stream, clock };
    },
    close() {
      if (!closed) db.close();
      closed = true;
    },
  };
  return opened;
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
