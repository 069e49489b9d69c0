// A realistic backup index of either layout, as one SQL script that runs
// unchanged in the sqlite3 CLI and in sql.js. The bulk comes from recursive
// CTEs and set-based INSERTs, not from JS: the CLI builds 1 GB in about 30 s.
//
// The model: a sliding window of files. Snapshot s (daily) holds files
// s*D+1 .. s*D+F, so consecutive snapshots share all but D files (D new, D
// deleted). One file in ten changes once in its life: like a real index, the
// row then holds the latest version, most of whose chunks are those of the old
// version; the replaced chunks stay in their blobs, in no file. A file's
// content is uploaded by the snapshot that first saw that version, in blobs of
// up to `chunksPerBlob` new chunks; one chunk in eight of later content
// deduplicates against a chunk the first snapshot uploaded. One file in 53 is
// a symlink (no chunks). Timestamps are unix seconds.
import { loadSqlJs } from '../core/sqlite.ts';
import { sqlText } from '../core/sql-text.ts';
import { shortHostName } from '../core/snapshot-id.ts';
import { schemaSql } from './schemas.ts';
import type { LayoutShortName } from '../core/layout.ts';

export interface SampleIndexOptions {
  layout: LayoutShortName;
  /** Default web1.example.com. */
  hostname?: string;
  /** Number of snapshots, one a day; default 3. */
  snapshots?: number;
  /** Default 200; ignored when targetBytes is given. */
  filesPerSnapshot?: number;
  /** Average chunks per regular file; default 4. */
  chunksPerFile?: number;
  /** Default 64. */
  chunksPerBlob?: number;
  /** Changes every hash and id; default 1. */
  seed?: number;
  /** Approximate database size in bytes; sets filesPerSnapshot. */
  targetBytes?: number;
  /** Start of the first snapshot (ISO 8601, whole seconds); default 2026-11-18T03:00:00Z. */
  firstSnapshotAt?: string;
  /**
   * vaultik's named snapshots: ids `<short host>_<name>_<UTC time>` (short host:
   * the hostname up to its first dot). Default: unnamed, `<hostname>_<UTC time>`.
   */
  snapshotName?: string;
}

interface Plan {
  layout: LayoutShortName;
  hostname: string;
  snapshots: number;
  files: number;
  churn: number;
  chunksPerFile: number;
  chunksPerBlob: number;
  seed: number;
  snapshotIds: string[];
  startedAt: number[];
}

const DAY = 86_400;
// Database bytes (rows and indexes) per chunk of a file, and per snapshot_files
// row, measured with the sqlite3 CLI; targetBytes divides by these.
const BYTES_PER_FILE_CHUNK: Record<LayoutShortName, number> = { v1: 1260, v2: 1125 };
const BYTES_PER_SNAPSHOT_FILE: Record<LayoutShortName, number> = { v1: 255, v2: 227 };

function positiveInt(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${name} must be an integer in 1..${max}, got ${value}`);
  return value;
}

function plan(opts: SampleIndexOptions): Plan {
  const hostname = opts.hostname ?? 'web1.example.com';
  const snapshots = positiveInt('snapshots', opts.snapshots ?? 3, 1000);
  const chunksPerFile = positiveInt('chunksPerFile', opts.chunksPerFile ?? 4, 1000);
  const chunksPerBlob = positiveInt('chunksPerBlob', opts.chunksPerBlob ?? 64, 100_000);
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 31) throw new RangeError(`seed must be an integer in 0..2^31-1, got ${seed}`);
  let files = opts.filesPerSnapshot ?? 200;
  if (opts.targetBytes !== undefined) {
    // Universe = files * (1 + (snapshots-1) * 5%); snapshot_files rows = files * snapshots.
    const perFile = (1 + (snapshots - 1) * 0.05) * BYTES_PER_FILE_CHUNK[opts.layout] * chunksPerFile
      + snapshots * BYTES_PER_SNAPSHOT_FILE[opts.layout];
    files = Math.max(1, Math.round(opts.targetBytes / perFile));
  }
  positiveInt('filesPerSnapshot', files, 100_000_000);
  const churn = Math.max(1, Math.round(files * 0.05));
  const universe = files + (snapshots - 1) * churn;
  // Hash inputs stay below 2^30 so the 64-bit SQL arithmetic never overflows.
  if (universe * 2 * chunksPerFile >= 2 ** 30) throw new RangeError('sample index too large');
  const first = Date.parse(opts.firstSnapshotAt ?? '2026-11-18T03:00:00Z');
  if (!Number.isFinite(first) || first % 1000 !== 0) throw new RangeError(`firstSnapshotAt must be an ISO time in whole seconds, got ${opts.firstSnapshotAt}`);
  const startedAt = Array.from({ length: snapshots }, (_, s) => first / 1000 + s * DAY);
  const snapshotIds = startedAt.map((t) => `${idPrefix(hostname, opts.snapshotName)}_${new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
  return { layout: opts.layout, hostname, snapshots, files, churn, chunksPerFile, chunksPerBlob, seed, snapshotIds, startedAt };
}

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;

function idPrefix(hostname: string, name: string | undefined): string {
  if (name === undefined) return hostname;
  if (!SNAPSHOT_NAME.test(name)) throw new RangeError(`snapshotName must be letters, digits, '.' and '-', got ${JSON.stringify(name)}`);
  return `${shortHostName(hostname)}_${name}`;
}

/** The ids of the snapshots sampleIndexSql(opts) creates, oldest first (vaultik's `<host>_<UTC time>`, or `<short host>_<name>_<UTC time>`). */
export function sampleSnapshotIds(opts: SampleIndexOptions): string[] {
  return plan(opts).snapshotIds;
}


// Deterministic pseudo-random SQL expressions (sql.js has no sha256): a
// multiply-and-square mixer whose products stay below 2^63.
const MIX = 1540483477;
const FIRST = 2654435761;

function salt(seed: number, kind: number): number {
  // Spread so that nearby seeds and kinds give unrelated values.
  return Number((BigInt(seed * 64 + kind) * 668265263n) % 2147483648n);
}

/** 32 pseudo-random bits of a non-negative integer expression (the middle of a square). */
function mix(expr: string, s: number): string {
  const y = `((((${expr}) % 1073741789) * ${MIX} + ${salt(s, 0)}) & 2147483647)`;
  return `((${y} * ${y} >> 20) & 4294967295)`;
}

/** 64 hex digits; the first 8 are a bijection of n (< 2^32), so values are unique per kind. */
function hex64(n: string, seed: number, kind: number): string {
  const s = salt(seed, kind);
  const segs = [`((${n}) * ${FIRST} + ${s}) & 4294967295`, ...Array.from({ length: 7 }, (_, i) => mix(n, s + i + 1))];
  return `printf('${'%08x'.repeat(8)}', ${segs.join(', ')})`;
}

/** A version-4-looking UUID; the last 12 digits are a bijection of n, so ids are unique per kind. */
function uuid(n: string, seed: number, kind: number): string {
  const s = salt(seed, kind);
  return `printf('%08x-%04x-4%03x-%04x-%012x', ${mix(n, s + 1)}, ${mix(n, s + 2)} & 65535, ${mix(n, s + 3)} & 4095, `
    + `32768 | (${mix(n, s + 4)} & 16383), ((${n}) * ${FIRST} + ${s} * 131071) & 281474976710655)`;
}

const KIND = { chunk: 1, sha256: 2, blob: 3, fileId: 4, blobId: 5, revision: 6, misc: 7 } as const;

/** The SQL script (schema + data) of a sample index; run it on an empty database. */
export function sampleIndexSql(opts: SampleIndexOptions): string {
  const p = plan(opts);
  const { layout, seed, files: F, churn: D, chunksPerFile: C, chunksPerBlob: B } = p;
  const universe = F + (p.snapshots - 1) * D;
  const v1 = layout === 'v1';
  const m = (expr: string, variant = 0) => mix(expr, salt(seed, KIND.misc) + variant);
  // Whether chunk position (ver, k, j) deduplicates against the first
  // snapshot (one in eight), and which of its chunks (before "% z0").
  const pos = (ver: string, k: string, j: string) => `${k} * 8191 + ${ver} * 4099 + ${j} * 524287`;
  const common = (ver: string, k: string, j: string) => `${m(pos(ver, k, j), 1)} % 8 = 0`;
  const commonTarget = (ver: string, k: string, j: string) => m(pos(ver, k, j), 2);
  const fileKey = v1 ? 'f.path' : 'f.id';
  // Modified since the previous snapshot (or in the month before the first).
  const mtime = `s.started - 600 - ${m('f.k + 13')} % CASE WHEN s.s = 0 THEN 2592000 ELSE ${DAY - 1200} END`;
  const fileRef = v1 ? { fc: 'path', cf: 'file_path', sf: 'file_path' } : { fc: 'file_id', cf: 'file_id', sf: 'file_id' };
  const snapRows = p.snapshotIds.map((id, s) => `(${s}, ${sqlText(id)}, ${p.startedAt[s]})`).join(',\n  ');
  // Inserting into hash-keyed indexes is random access: a page cache as large
  // as the database keeps big builds from thrashing (it only grows as used).
  // The schema's secondary indexes come last in its file; building them after
  // the data sorts once instead of inserting at random, and leaves the same
  // sqlite_schema.
  const schema = schemaSql(layout);
  const firstIndex = schema.search(/^CREATE INDEX/m);
  const [tables, indexes] = firstIndex < 0 ? [schema, ''] : [schema.slice(0, firstIndex), schema.slice(firstIndex)];
  const cacheKiB = Math.ceil((universe * (BYTES_PER_FILE_CHUNK[layout] * C) + F * p.snapshots * BYTES_PER_SNAPSHOT_FILE[layout]) * 1.25 / 1024) + 65_536;

  return `PRAGMA temp_store = MEMORY;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -${cacheKiB};
BEGIN;
${tables}
CREATE TEMP TABLE g_snap (s INTEGER PRIMARY KEY, id TEXT NOT NULL, started INTEGER NOT NULL);
INSERT INTO g_snap (s, id, started) VALUES
  ${snapRows};

-- The file universe: the window of snapshots each file is in, and its versions.
CREATE TEMP TABLE g_file (k INTEGER PRIMARY KEY, first INTEGER, last INTEGER, changed INTEGER, link INTEGER,
  n0 INTEGER, n1 INTEGER, base0 INTEGER, base1 INTEGER, path TEXT, id TEXT, size INTEGER);
WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r WHERE k < ${universe}),
w AS (SELECT k, max(0, (k - ${F} + ${D - 1}) / ${D}) AS first, min(${p.snapshots - 1}, (k - 1) / ${D}) AS last,
        k % 53 = 0 AS link FROM r)
INSERT INTO g_file (k, first, last, changed, link, n0, path, id)
SELECT k, first, last,
  CASE WHEN k % 10 = 3 AND NOT link AND last > first THEN first + 1 + ${m('k')} % (last - first) END,
  link,
  CASE WHEN link THEN 0 ELSE 1 + ${m('k + 7')} % ${2 * C - 1} END,
  printf('/home/user%d/projects/p%02d/%s/file_%07d.%s', k % 7, k / 97 % 40,
    CASE k % 3 WHEN 0 THEN 'src' WHEN 1 THEN 'docs' ELSE 'data' END, k,
    CASE k % 5 WHEN 0 THEN 'go' WHEN 1 THEN 'md' WHEN 2 THEN 'json' WHEN 3 THEN 'png' ELSE 'txt' END),
  ${v1 ? 'NULL' : uuid('k', seed, KIND.fileId)}
FROM w;
UPDATE g_file SET n1 = max(1, n0 + ${m('k + 11')} % 3 - 1) WHERE changed IS NOT NULL;
-- Chunk positions get dense ids (pid): first version in file order, then the
-- changed versions by snapshot, so each snapshot's new content is contiguous.
WITH b AS (SELECT k, sum(n0) OVER (ORDER BY k) - n0 AS base0,
                  sum(coalesce(n1, 0)) OVER (ORDER BY changed, k) - n1 AS base1 FROM g_file)
UPDATE g_file SET base0 = b.base0, base1 = (SELECT sum(n0) FROM g_file) + b.base1 FROM b WHERE b.k = g_file.k;

-- Every chunk position of every version. kind 0: a new chunk, numbered by
-- its pid; 1: a chunk the first snapshot uploaded (whose pids are 0..z0-1);
-- 2: unchanged from the file's first version.
CREATE TEMP TABLE g_pos (ver INTEGER NOT NULL, k INTEGER NOT NULL, j INTEGER NOT NULL, owner INTEGER NOT NULL,
  kind INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (ver, k, j)) WITHOUT ROWID;
WITH RECURSIVE r(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM r WHERE j < ${2 * C - 1}),
z(z0) AS (SELECT sum(n0) FROM g_file WHERE first = 0),
content(ver, k, owner, n, base, first, n0, base0) AS (
  SELECT 0, k, first, n0, base0, first, n0, base0 FROM g_file
  UNION ALL SELECT 1, k, changed, n1, base1, first, n0, base0 FROM g_file WHERE changed IS NOT NULL),
pos AS (
  SELECT c.ver, c.k, r.j, c.owner, c.base + r.j AS pid, z.z0, c.base0 + r.j AS pid0,
    CASE WHEN c.ver = 1 AND r.j < c.n0 AND (r.j + c.k) % 3 <> 0 THEN 2
         WHEN c.owner > 0 AND ${common('c.ver', 'c.k', 'r.j')} THEN 1
         ELSE 0 END AS kind,
    c.first > 0 AND ${common('0', 'c.k', 'r.j')} AS common0
  FROM content c JOIN r ON r.j < c.n JOIN z)
INSERT INTO g_pos (ver, k, j, owner, kind, seq)
SELECT ver, k, j, owner, kind,
  CASE kind WHEN 0 THEN pid
            WHEN 1 THEN ${commonTarget('ver', 'k', 'j')} % z0
            ELSE CASE WHEN common0 THEN ${commonTarget('0', 'k', 'j')} % z0 ELSE pid0 END END
FROM pos;

-- Blobs hold the new chunks of one snapshot, up to chunksPerBlob consecutive pids.
CREATE TEMP TABLE g_chunk (seq INTEGER PRIMARY KEY, owner INTEGER NOT NULL, blobno INTEGER NOT NULL,
  len INTEGER NOT NULL, hash TEXT NOT NULL);
INSERT INTO g_chunk (seq, owner, blobno, len, hash)
SELECT seq, owner, seq / ${B} * 1024 + owner, 4096 + ${m('seq + 5')} % 126977, ${hex64('seq', seed, KIND.chunk)}
FROM g_pos WHERE kind = 0 ORDER BY seq;

CREATE TEMP TABLE g_blob (blobno INTEGER PRIMARY KEY, owner INTEGER NOT NULL, chunks INTEGER NOT NULL,
  usize INTEGER NOT NULL, csize INTEGER NOT NULL, hash TEXT NOT NULL, id TEXT, created INTEGER NOT NULL);
INSERT INTO g_blob (blobno, owner, chunks, usize, csize, hash, id, created)
SELECT blobno, owner, chunks, usize, usize * (55 + ${m('n')} % 30) / 100,
  ${hex64('n', seed, KIND.blob)}, ${v1 ? 'NULL' : uuid('n', seed, KIND.blobId)}, started + 30 + i
FROM (SELECT row_number() OVER (ORDER BY c.blobno) AS n, row_number() OVER (PARTITION BY c.owner ORDER BY c.blobno) AS i,
        c.blobno, c.owner, count(*) AS chunks, sum(c.len) AS usize, s.started
      FROM g_chunk c JOIN g_snap s ON s.s = c.owner GROUP BY c.blobno)
ORDER BY blobno;

-- The chunks of each file's current version, with their offsets in the file.
CREATE TEMP TABLE g_fc (k INTEGER NOT NULL, j INTEGER NOT NULL, seq INTEGER NOT NULL, off INTEGER NOT NULL,
  len INTEGER NOT NULL, PRIMARY KEY (k, j)) WITHOUT ROWID;
INSERT INTO g_fc (k, j, seq, off, len)
SELECT p.k, p.j, p.seq, sum(c.len) OVER (PARTITION BY p.k ORDER BY p.j) - c.len, c.len
FROM g_file f JOIN g_pos p ON p.k = f.k AND p.ver = (f.changed IS NOT NULL) JOIN g_chunk c ON c.seq = p.seq;
UPDATE g_file SET size = CASE WHEN link THEN length(printf('../file_%07d.txt', k - 1))
  ELSE coalesce((SELECT sum(len) FROM g_fc WHERE g_fc.k = g_file.k), 0) END;

${v1 ? `INSERT INTO files (path, mtime, ctime, size, mode, uid, gid, link_target)
SELECT f.path, ${mtime}, ${mtime} + ${m('f.k + 17')} % 100,` : `INSERT INTO files (id, path, mtime, size, mode, uid, gid, link_target)
SELECT f.id, f.path, ${mtime},`}
  f.size, CASE WHEN f.link THEN 41471 WHEN f.k % 9 = 0 THEN 33261 ELSE 33188 END, 1000 + f.k % 7, 1000 + f.k % 7,
  CASE WHEN f.link THEN printf('../file_%07d.txt', f.k - 1) END
FROM g_file f JOIN g_snap s ON s.s = coalesce(f.changed, f.first) ORDER BY f.k;

INSERT INTO chunks (chunk_hash, ${v1 ? 'sha256, ' : ''}size)
SELECT hash, ${v1 ? `${hex64('seq', seed, KIND.sha256)}, ` : ''}len FROM g_chunk ORDER BY seq;

INSERT INTO file_chunks (${fileRef.fc}, idx, chunk_hash)
SELECT ${fileKey}, fc.j, c.hash FROM g_fc fc JOIN g_file f ON f.k = fc.k JOIN g_chunk c ON c.seq = fc.seq ORDER BY fc.k, fc.j;

-- A chunk that occurs twice in a file maps back to its first offset.
INSERT OR IGNORE INTO chunk_files (chunk_hash, ${fileRef.cf}, file_offset, length)
SELECT c.hash, ${fileKey}, fc.off, c.len FROM g_fc fc JOIN g_file f ON f.k = fc.k JOIN g_chunk c ON c.seq = fc.seq
ORDER BY fc.k, fc.j;

${v1 ? `INSERT INTO blobs (blob_hash, created_ts) SELECT hash, created FROM g_blob ORDER BY blobno;`
    : `INSERT INTO blobs (id, blob_hash, created_ts, finished_ts, uncompressed_size, compressed_size, uploaded_ts)
SELECT id, hash, created, created + 20, usize, csize, created + 25 + csize / 50000000 FROM g_blob ORDER BY blobno;`}

INSERT INTO blob_chunks (${v1 ? 'blob_hash' : 'blob_id'}, chunk_hash, offset, length)
SELECT ${v1 ? 'b.hash' : 'b.id'}, c.hash, sum(c.len) OVER (PARTITION BY c.blobno ORDER BY c.seq) - c.len, c.len
FROM g_chunk c JOIN g_blob b ON b.blobno = c.blobno ORDER BY c.seq;

INSERT INTO snapshot_files (snapshot_id, ${fileRef.sf})
SELECT s.id, ${fileKey} FROM g_snap s JOIN g_file f ON f.k BETWEEN s.s * ${D} + 1 AND s.s * ${D} + ${F} ORDER BY s.s, f.k;

-- Only the blobs a snapshot uploaded, i.e. those holding its new chunks.
INSERT INTO snapshot_blobs (snapshot_id, ${v1 ? 'blob_hash' : 'blob_id, blob_hash'})
SELECT s.id, ${v1 ? 'b.hash' : 'b.id, b.hash'} FROM g_blob b JOIN g_snap s ON s.s = b.owner ORDER BY b.blobno;
${v1 ? '' : `
INSERT INTO uploads (blob_hash, snapshot_id, uploaded_at, size, duration_ms)
SELECT b.hash, s.id, b.created + 25 + b.csize / 50000000, b.csize, 40 + b.csize / 40000
FROM g_blob b JOIN g_snap s ON s.s = b.owner ORDER BY b.blobno;
`}
WITH up AS (SELECT owner, count(*) AS blobs, sum(chunks) AS chunks, sum(usize) AS usize, sum(csize) AS csize
            FROM g_blob GROUP BY owner),
fs AS (SELECT s.s, count(*) AS files, sum(f.size) AS size FROM g_snap s
       JOIN g_file f ON f.k BETWEEN s.s * ${D} + 1 AND s.s * ${D} + ${F} GROUP BY s.s)
INSERT INTO snapshots (id, hostname, vaultik_version, ${v1 ? '' : 'vaultik_git_revision, '}started_at, completed_at,
  file_count, chunk_count, blob_count, total_size, blob_size, ${v1 ? '' : 'blob_uncompressed_size, '}compression_ratio${v1 ? '' : `,
  compression_level, upload_bytes, upload_duration_ms`})
SELECT s.id, ${sqlText(p.hostname)}, '0.9.3', ${v1 ? '' : `substr(${hex64('s.s', seed, KIND.revision)}, 1, 40), `}s.started,
  s.started + 120 + coalesce(up.blobs, 0) + ${m('s.s')} % 600,
  fs.files, coalesce(up.chunks, 0), coalesce(up.blobs, 0), fs.size, coalesce(up.csize, 0),
  ${v1 ? '' : 'coalesce(up.usize, 0), '}coalesce(round(1.0 * up.csize / up.usize, 4), 1.0)${v1 ? '' : `,
  3, coalesce(up.csize, 0), coalesce(40 * up.blobs + up.csize / 40000, 0)`}
FROM g_snap s JOIN fs ON fs.s = s.s LEFT JOIN up ON up.owner = s.s ORDER BY s.s;

DROP TABLE g_snap; DROP TABLE g_file; DROP TABLE g_pos; DROP TABLE g_chunk; DROP TABLE g_blob; DROP TABLE g_fc;
${indexes}
COMMIT;
`;
}

/** Builds the sample index in sql.js (all in memory: keep it small) and returns the database file's bytes. */
export async function sampleIndex(opts: SampleIndexOptions): Promise<Uint8Array> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  try {
    db.exec(sampleIndexSql(opts));
    return db.export();
  } finally {
    db.close();
  }
}
