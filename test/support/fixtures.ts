// Small, deterministic index fixtures: a two-snapshot sample index plus the
// awkward cases an export must get right (see FixtureIds). Built in sql.js
// from one SQL script (fixtureSql), which runs unchanged in the sqlite3 CLI.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleIndexSql, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import type { LayoutShortName } from '../../lib/core/layout.ts';
import { loadSqlJs } from '../../lib/core/sqlite.ts';
import { sqlText } from '../../lib/core/sql-text.ts';

export interface FixtureIds {
  /** The first sample snapshot: uploaded every blob it needs. */
  full: string;
  /** The second: uploaded some blobs (new and changed files), needs older ones too. */
  incremental: string;
  /** Only files of earlier snapshots: no snapshot_blobs rows, yet needs blobs. */
  dedupOnly: string;
  /** completed_at NULL; uploaded one blob. */
  incomplete: string;
  /** Files with awkward values, a missing file, an unused upload, a chunk in two blobs. */
  awkward: string;
  /** No files at all. */
  empty: string;
  /** Not in the index. */
  missing: string;
}

const HOST = 'fixture.example.com';
const SAMPLE: Omit<SampleIndexOptions, 'layout'> = {
  hostname: HOST, snapshots: 2, filesPerSnapshot: 12, chunksPerFile: 3, chunksPerBlob: 4, seed: 7,
  firstSnapshotAt: '2026-11-18T03:00:00Z',
};

export function fixtureIds(layout: LayoutShortName): FixtureIds {
  const [full, incremental] = sampleSnapshotIds({ layout, ...SAMPLE });
  const day = (d: number) => `${HOST}_2026-11-${d}T03:00:00Z`;
  return { full, incremental, dedupOnly: day(20), incomplete: day(21), awkward: day(22), empty: day(23), missing: `${HOST}_2026-12-01T03:00:00Z` };
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const uuid = (s: string) => sha(s).replace(/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*$/, '$1-$2-4$3-a$4-$5');
const unixTime = (iso: string) => Date.parse(iso) / 1000;

/** Chunks the fixture adds (name → size); "from-full"/"from-incremental" are sample chunks. */
const CHUNKS: Record<string, number> = {
  'awk-new': 1000, 'two-blobs': 2000, 'inc-new-1': 1500, 'inc-new-2': 1600,
  'orphan-file': 700, 'orphan-1': 800, 'orphan-2': 900,
};

interface FxBlob { name: string; uploadedBy?: keyof FixtureIds; chunks: string[]; unfinished?: boolean }

function blobs(layout: LayoutShortName): FxBlob[] {
  return [
    { name: 'awkward', uploadedBy: 'awkward', chunks: ['awk-new', 'two-blobs'] },
    { name: 'dup', chunks: ['two-blobs'] }, // a second copy of a chunk; nobody lists it as uploaded
    { name: 'incomplete', uploadedBy: 'incomplete', chunks: ['inc-new-1', 'inc-new-2'] },
    { name: 'unused', uploadedBy: 'awkward', chunks: ['orphan-1'] }, // uploaded by awkward, used by none of its files
    { name: 'orphan', chunks: layout === 'v1' ? ['orphan-file', 'orphan-2'] : ['orphan-file'] },
    { name: 'empty', chunks: [] },
    ...(layout === 'v2' ? [{ name: 'unfinished', chunks: ['orphan-2'], unfinished: true }] : []),
  ];
}

interface FxFile {
  name: string;
  snapshot?: keyof FixtureIds;
  path: string;
  /** SQL literals. */
  mtime: string;
  ctime: string;
  size: string;
  meta: string;
  mode: number;
  link: string | null;
  chunks: string[];
}

// Exactly 4 KB (the page size), with quotes inside.
const LONG_PATH = `/deep/${Array.from({ length: 600 }, (_, i) => `d${String(i).padStart(3, '0')}'x`).join('/')}`.slice(0, 4096 - 14) + '/last file.txt';

const FILES: FxFile[] = [
  { name: 'quotes', snapshot: 'awkward', path: `/srv/it's a "quoted" name.txt`, mtime: '9223372036854775807',
    ctime: '-9223372036854775808', size: '9007199254740993', meta: '0.1', mode: 33188, link: null, chunks: ['from-full', 'awk-new'] },
  { name: 'control', snapshot: 'awkward', path: '/srv/tab\there\nnewline\r\ncrlf.txt', mtime: '-9223372036854775808',
    ctime: '0', size: '9223372036854775807', meta: '1e-300', mode: 33188, link: null, chunks: ['two-blobs'] },
  { name: 'unicode', snapshot: 'awkward', path: '/srv/unicodé/中文/😀.txt', mtime: '1795316000', ctime: '1795316001',
    size: '2000', meta: '1.7976931348623157e308', mode: 33188, link: null, chunks: ['from-incremental'] },
  { name: 'link', snapshot: 'awkward', path: '/srv/lien', mtime: '1795316000', ctime: '1795316000',
    size: '18', meta: "'é 中文 😀'", mode: 41471, link: 'cible é 中文 😀', chunks: [] },
  { name: 'long', snapshot: 'awkward', path: LONG_PATH, mtime: '1795316000', ctime: '1795316000', size: '1000',
    meta: '-0.0', mode: 33188, link: null, chunks: ['awk-new'] },
  { name: 'empty', snapshot: 'awkward', path: '/srv/empty', mtime: '1795316000', ctime: '1795316000', size: '0',
    meta: '3.0', mode: 33188, link: null, chunks: [] },
  { name: 'blob-meta', snapshot: 'awkward', path: '/srv/blob-meta.bin', mtime: '1795316000', ctime: '1795316000',
    size: '2000', meta: "X'00FF0A0D27225C'", mode: 33261, link: null, chunks: ['awk-new', 'awk-new'] },
  { name: 'in-progress', snapshot: 'incomplete', path: '/var/log/backup in progress.log', mtime: '1795402000',
    ctime: '1795402000', size: '3100', meta: 'NULL', mode: 33188, link: null, chunks: ['inc-new-1', 'inc-new-2'] },
  { name: 'orphan', path: '/tmp/orphan.tmp', mtime: '1795000000', ctime: '1795000000', size: '700', meta: "'stale'",
    mode: 33188, link: null, chunks: ['orphan-file'] },
];

/** The fixture's extra SQL, run after the sample script. */
function extrasSql(layout: LayoutShortName, ids: FixtureIds): string {
  const v1 = layout === 'v1';
  const fileKey = (f: { name: string; path: string }) => sqlText(v1 ? f.path : uuid(`fixture-file:${f.name}`));
  const blobHash = (b: FxBlob) => (b.unfinished ? 'NULL' : sqlText(sha(`fixture-blob:${b.name}`)));
  const blobKey = (b: FxBlob) => (v1 ? blobHash(b) : sqlText(uuid(`fixture-blob:${b.name}`)));
  const ref = v1 ? { sf: 'file_path', fc: 'path', cf: 'file_path', blob: 'blob_hash' } : { sf: 'file_id', fc: 'file_id', cf: 'file_id', blob: 'blob_id' };
  const S = (k: keyof FixtureIds) => sqlText(ids[k]);
  const chunk = (name: string) => `(SELECT hash FROM fx_chunk WHERE name = ${sqlText(name)})`;
  const chunkSize = (name: string) => `(SELECT size FROM fx_chunk WHERE name = ${sqlText(name)})`;
  // A chunk of the first blob a snapshot uploaded.
  const sampleChunk = (k: keyof FixtureIds) => `(SELECT bc.chunk_hash FROM blob_chunks bc JOIN snapshot_blobs sb
    ON sb.${ref.blob} = bc.${ref.blob} WHERE sb.snapshot_id = ${S(k)} ORDER BY sb.rowid, bc.rowid LIMIT 1)`;
  const t0 = unixTime('2026-11-20T03:00:00Z');
  const out: string[] = [];
  const sql = (s: string) => out.push(s.trim());

  sql(`
PRAGMA foreign_keys = OFF;
BEGIN;
-- What agents add: extra columns (one typeless, so values keep their storage
-- class; one with a default that existing rows only inherit), an index, a
-- table scoped by snapshot_id, a table that is not, a trigger and a view.
ALTER TABLE files ADD COLUMN agent_meta;
ALTER TABLE snapshots ADD COLUMN agent_label TEXT DEFAULT 'nightly';
ALTER TABLE snapshot_blobs ADD COLUMN agent_verified INTEGER NOT NULL DEFAULT 0;
CREATE INDEX agent_idx_files_mtime ON files (mtime);
CREATE TABLE snapshot_tags (snapshot_id TEXT, tag TEXT NOT NULL);
CREATE TABLE agent_state (k TEXT PRIMARY KEY, v);
CREATE TRIGGER agent_file_deleted AFTER DELETE ON files BEGIN
  INSERT OR REPLACE INTO agent_state (k, v) VALUES ('deleted ' || old.path, 1);
END;
CREATE VIEW agent_snapshot_sizes AS
  SELECT snapshot_id, count(*) AS files FROM snapshot_files GROUP BY snapshot_id;

INSERT INTO chunks (chunk_hash, ${v1 ? 'sha256, ' : ''}size) VALUES
  ${Object.entries(CHUNKS).map(([name, size]) => `(${sqlText(sha(`fixture-chunk:${name}`))}, ${v1 ? `${sqlText(sha(`fixture-sha256:${name}`))}, ` : ''}${size})`).join(',\n  ')};
-- Chunks by name, for the statements below.
CREATE TEMP TABLE fx_chunk (name TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL);
INSERT INTO fx_chunk (name, hash, size) VALUES
  ${Object.entries(CHUNKS).map(([name, size]) => `(${sqlText(name)}, ${sqlText(sha(`fixture-chunk:${name}`))}, ${size})`).join(',\n  ')};
INSERT INTO fx_chunk (name, hash, size) SELECT 'from-full', chunk_hash, size FROM chunks WHERE chunk_hash = ${sampleChunk('full')};
INSERT INTO fx_chunk (name, hash, size) SELECT 'from-incremental', chunk_hash, size FROM chunks WHERE chunk_hash = ${sampleChunk('incremental')};
`);

  // Snapshots after the sample's two, one a day.
  const snapshots: { key: keyof FixtureIds; completed: string; files: number; extra: string }[] = [
    { key: 'dedupOnly', completed: String(t0 + 300), files: 5, extra: 'NULL, 0, 1.0' },
    { key: 'incomplete', completed: 'NULL', files: 4, extra: "'partial', 0, 1.0" },
    { key: 'awkward', completed: String(t0 + 2 * 86400 + 400), files: 8,
      extra: `${sqlText('nightly \'é\' "中文"\n😀')}, 9223372036854775807, 0.1` },
    { key: 'empty', completed: String(t0 + 3 * 86400 + 60), files: 0, extra: "'', 0, 1.0" },
  ];
  sql(`INSERT INTO snapshots (id, hostname, vaultik_version, started_at, completed_at, file_count, agent_label, total_size, compression_ratio) VALUES
  ${snapshots.map((s, i) => `(${S(s.key)}, '${HOST}', '0.9.3', ${t0 + i * 86400}, ${s.completed}, ${s.files}, ${s.extra})`).join(',\n  ')};`);

  const fileCols = v1 ? 'path, mtime, ctime, size, mode, uid, gid, link_target, agent_meta' : 'id, path, mtime, size, mode, uid, gid, link_target, agent_meta';
  sql(`INSERT INTO files (${fileCols}) VALUES
  ${FILES.map((f) => `(${v1 ? '' : `${fileKey(f)}, `}${sqlText(f.path)}, ${f.mtime}, ${v1 ? `${f.ctime}, ` : ''}${f.size}, ${f.mode}, 0, 0, `
    + `${f.link === null ? 'NULL' : sqlText(f.link)}, ${f.meta})`).join(',\n  ')};`);

  for (const f of FILES) {
    f.chunks.forEach((c, idx) => {
      sql(`INSERT INTO file_chunks (${ref.fc}, idx, chunk_hash) VALUES (${fileKey(f)}, ${idx}, ${chunk(c)});`);
      const offset = f.chunks.slice(0, idx).map(chunkSize).join(' + ') || '0';
      if (f.chunks.indexOf(c) === idx) {
        sql(`INSERT INTO chunk_files (chunk_hash, ${ref.cf}, file_offset, length) VALUES (${chunk(c)}, ${fileKey(f)}, ${offset}, ${chunkSize(c)});`);
      }
    });
  }

  for (const [i, b] of blobs(layout).entries()) {
    const created = t0 + 60 + i;
    const usize = b.chunks.reduce((n, c) => n + CHUNKS[c], 0);
    sql(v1
      ? `INSERT INTO blobs (blob_hash, created_ts) VALUES (${blobHash(b)}, ${created});`
      : `INSERT INTO blobs (id, blob_hash, created_ts, finished_ts, uncompressed_size, compressed_size, uploaded_ts) VALUES
          (${blobKey(b)}, ${blobHash(b)}, ${created}, ${b.unfinished ? 'NULL' : created + 5}, ${usize}, ${Math.floor(usize * 0.6)}, ${b.uploadedBy ? created + 9 : 'NULL'});`);
    let offset = 0;
    for (const c of b.chunks) {
      sql(`INSERT INTO blob_chunks (${ref.blob}, chunk_hash, offset, length) VALUES (${blobKey(b)}, ${chunk(c)}, ${offset}, ${CHUNKS[c]});`);
      offset += CHUNKS[c];
    }
    if (b.uploadedBy) {
      sql(`INSERT INTO snapshot_blobs (snapshot_id, ${v1 ? 'blob_hash' : 'blob_id, blob_hash'}, agent_verified) VALUES
          (${S(b.uploadedBy)}, ${v1 ? '' : `${blobKey(b)}, `}${blobHash(b)}, 1);`);
      if (!v1) {
        sql(`INSERT INTO uploads (blob_hash, snapshot_id, uploaded_at, size, duration_ms) VALUES
            (${blobHash(b)}, ${S(b.uploadedBy)}, ${created + 9}, ${Math.floor(usize * 0.6)}, 12);`);
      }
    }
  }

  // Membership: dedupOnly takes 5 files both sample snapshots have, incomplete
  // 3 of the incremental's plus its own; awkward also lists a file that does not exist.
  sql(`
INSERT INTO snapshot_files (snapshot_id, ${ref.sf})
  SELECT ${S('dedupOnly')}, ${ref.sf} FROM snapshot_files WHERE snapshot_id = ${S('full')}
    AND ${ref.sf} IN (SELECT ${ref.sf} FROM snapshot_files WHERE snapshot_id = ${S('incremental')}) ORDER BY rowid LIMIT 5;
INSERT INTO snapshot_files (snapshot_id, ${ref.sf})
  SELECT ${S('incomplete')}, ${ref.sf} FROM snapshot_files WHERE snapshot_id = ${S('incremental')} ORDER BY rowid LIMIT 3 OFFSET 5;`);
  for (const f of FILES.filter((x) => x.snapshot)) {
    sql(`INSERT INTO snapshot_files (snapshot_id, ${ref.sf}) VALUES (${S(f.snapshot!)}, ${fileKey(f)});`);
  }
  sql(`INSERT INTO snapshot_files (snapshot_id, ${ref.sf}) VALUES (${S('awkward')}, ${fileKey({ name: 'missing', path: '/srv/missing file.txt' })});`);

  sql(`
INSERT INTO snapshot_tags (snapshot_id, tag) VALUES
  (${S('full')}, 'weekly'), (${S('incremental')}, 'daily'), (${S('awkward')}, 'it''s "odd"'),
  (${S('awkward')}, '中文 😀'), (${S('incomplete')}, 'partial'), (NULL, 'unassigned');
INSERT INTO agent_state (k, v) VALUES ('cursor', 42), ('last_error', NULL);
DROP TABLE fx_chunk;
COMMIT;
ANALYZE;`);
  return out.join('\n');
}

/** The whole fixture as one SQL script (sqlite3 CLI or sql.js, on an empty database). */
export function fixtureSql(layout: LayoutShortName): string {
  return `${sampleIndexSql({ layout, ...SAMPLE })}\n${extrasSql(layout, fixtureIds(layout))}\n`;
}

export async function buildFixture(layout: LayoutShortName): Promise<{ bytes: Uint8Array; ids: FixtureIds }> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  try {
    db.exec(fixtureSql(layout));
    return { bytes: db.export(), ids: fixtureIds(layout) };
  } finally {
    db.close();
  }
}

/** Writes the fixture to dir/index.db and returns that path (its ids: fixtureIds(layout)). */
export async function buildFixtureFile(layout: LayoutShortName, dir: string): Promise<string> {
  const path = join(dir, 'index.db');
  writeFileSync(path, (await buildFixture(layout)).bytes);
  return path;
}
