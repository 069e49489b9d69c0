// Uploads whose schema text is hostile or odd (issue #14, "Hostile input,
// round two"), each as SQL the sqlite3 CLI applies to a fixture index. They
// are shared by test/robustness/hostile-schema.test.ts and the figures of
// bench/hostile-schema.ts. Many rewrite the stored CREATE text (writable_schema)
// once the rows are in: that is how an upload gets a CHECK its rows violate,
// or an expression that raises ("integer overflow") whenever it is evaluated.
import type { ErrorCode } from '../../../lib/core/errors.ts';
import { sqlText } from '../../../lib/core/sql-text.ts';
import type { LayoutShortName } from '../../../lib/core/layout.ts';
import { fixtureIds, type FixtureIds } from '../fixtures.ts';

/** Raises "integer overflow" whenever SQLite evaluates it. */
export const RAISE = 'abs(-9223372036854775807 - 1)';

/**
 * Replaces `from` by `to` in the stored CREATE text of `name`; the CLI stops
 * (-bail) when `from` is not there, so a case cannot silently test nothing.
 */
export function rewrite(name: string, from: string, to: string): string {
  return `CREATE TEMP TABLE IF NOT EXISTS must_match (ok CHECK (ok));
INSERT INTO must_match SELECT count(*) = 1 FROM sqlite_schema WHERE name = ${sqlText(name)} AND instr(sql, ${sqlText(from)}) > 0;
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, ${sqlText(from)}, ${sqlText(to)}) WHERE name = ${sqlText(name)};
PRAGMA writable_schema = OFF;`;
}

/** A v1 fixture snapshot given a snapshot_blobs row for every blob its files need: the export adds none. */
function listEveryBlob(snapshot: keyof FixtureIds): string {
  const id = sqlText(fixtureIds('v1')[snapshot]);
  return `INSERT INTO snapshot_blobs (snapshot_id, blob_hash, agent_verified) SELECT DISTINCT ${id}, bc.blob_hash, 1
  FROM snapshot_files sf JOIN file_chunks fc ON fc.path = sf.file_path JOIN blob_chunks bc ON bc.chunk_hash = fc.chunk_hash
  WHERE sf.snapshot_id = ${id} AND bc.blob_hash NOT IN (SELECT blob_hash FROM snapshot_blobs WHERE snapshot_id = ${id});`;
}

export interface SchemaCase {
  /** The upload, as docs/reliability.md names it. */
  title: string;
  layout: LayoutShortName;
  snapshot: keyof FixtureIds;
  sql: string;
  /** 'exported', or the code the export is refused with. */
  expect: 'exported' | ErrorCode;
  /** What the export leaves out, applied to the reference copy before the sqlite3 CLI prunes it. */
  referenceSql?: string;
}

/** A file the dump would create if anything in it ran as a shell dot-command. */
export const SENTINEL = '/tmp/snapmeta-schema-sentinel';

export const SCHEMA_CASES = {
  agentNote: {
    title: '`uploads` CREATE TABLE text ending in `-- agent note`',
    layout: 'v2', snapshot: 'awkward', expect: 'exported',
    sql: "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = sql || ' -- agent note' WHERE name = 'uploads'; PRAGMA writable_schema = OFF;",
  },
  comments: {
    title: 'comments (with `;`, quotes, a `.shell` line), tabs, CRLF and four quoting styles in a layout table\'s CREATE text',
    layout: 'v1', snapshot: 'awkward', expect: 'exported',
    sql: rewrite('chunks', `CREATE TABLE chunks (
    chunk_hash TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL
)`, `CREATE TABLE "chunks" /* ; ' " */ (\t[chunk_hash]\tTEXT /* ) ; */ PRIMARY KEY -- ;\r\n , \`sha256\` TEXT NOT NULL, "size" INTEGER -- '\n NOT NULL /*\n.shell touch ${SENTINEL}\n*/\n) -- ;`),
  },
  virtualInDisguise: {
    title: '`CREATE/**/VIRTUAL TABLE` (FTS4) with a `snapshot_id` column',
    layout: 'v1', snapshot: 'awkward', expect: 'exported', referenceSql: 'DROP TABLE snapshot_search;',
    sql: `CREATE VIRTUAL TABLE snapshot_search USING fts4(path, snapshot_id);
INSERT INTO snapshot_search SELECT file_path, snapshot_id FROM snapshot_files;
${rewrite('snapshot_search', 'CREATE VIRTUAL TABLE', 'CREATE/**/VIRTUAL TABLE')}`,
  },
  generated: {
    title: 'generated columns (VIRTUAL and STORED), the virtual ones rewritten to raise when read; an AUTOINCREMENT table',
    layout: 'v2', snapshot: 'incremental', expect: 'exported',
    sql: `CREATE TABLE snapshot_events (id INTEGER PRIMARY KEY AUTOINCREMENT, snapshot_id TEXT, what TEXT,
  shout TEXT GENERATED ALWAYS AS (upper(what)) VIRTUAL, len INTEGER AS (length(what)) STORED);
INSERT INTO snapshot_events (snapshot_id, what) SELECT id, 'started' FROM snapshots;
INSERT INTO snapshot_events (snapshot_id, what) SELECT id, 'finished' FROM snapshots;
ALTER TABLE files ADD COLUMN depth INTEGER AS (length(path) - length(replace(path, '/', '')));
${rewrite('snapshot_events', 'upper(what)', RAISE)}
${rewrite('files', "length(path) - length(replace(path, '/', ''))", RAISE)}`,
  },
  defaults: {
    title: 'expression DEFAULTs that raise, beside literal ones (`\'\'`, `0`, `-1.5e3`, `(\'x\')`, `X\'00\'`, `CURRENT_TIMESTAMP`)',
    layout: 'v1', snapshot: 'awkward', expect: 'exported',
    sql: `ALTER TABLE snapshot_tags ADD COLUMN added_at INTEGER DEFAULT 0;
ALTER TABLE files ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN weight REAL DEFAULT -1.5e3;
ALTER TABLE files ADD COLUMN flag DEFAULT ('x');
ALTER TABLE files ADD COLUMN raw BLOB DEFAULT X'00';
CREATE TABLE snapshot_marks (snapshot_id TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP, n INTEGER DEFAULT (1 + 1));
INSERT INTO snapshot_marks (snapshot_id, at) SELECT id, '2026-11-20 03:00:00' FROM snapshots;
${rewrite('snapshot_tags', 'added_at INTEGER DEFAULT 0', `added_at INTEGER DEFAULT (${RAISE})`)}`,
  },
  indexes: {
    title: 'an expression index and a partial unique index (both rewritten to raise), beside plain ones with DESC, NOCASE, RTRIM',
    layout: 'v1', snapshot: 'awkward', expect: 'exported',
    referenceSql: 'DROP INDEX agent_files_lower; DROP INDEX agent_tags_named;',
    sql: `CREATE INDEX agent_files_lower ON files (lower(path));
CREATE UNIQUE INDEX agent_tags_named ON snapshot_tags (tag) WHERE snapshot_id IS NOT NULL;
CREATE INDEX agent_files_size ON files (size DESC, mtime COLLATE NOCASE);
CREATE UNIQUE INDEX agent_tags_unique ON snapshot_tags (snapshot_id, tag COLLATE RTRIM);
${rewrite('agent_files_lower', 'lower(path)', RAISE)}
${rewrite('agent_tags_named', 'snapshot_id IS NOT NULL', RAISE)}`,
  },
  collations: {
    title: 'NOCASE and RTRIM columns; `COLLATE agent_order` (not built into SQLite) on a column nothing compares, and on a plain index',
    layout: 'v1', snapshot: 'awkward', expect: 'exported',
    referenceSql: `DROP INDEX snapshot_notes_pad; ${rewrite('snapshot_notes', 'pad TEXT COLLATE agent_order', 'pad TEXT')}`,
    sql: `CREATE TABLE snapshot_notes (snapshot_id TEXT NOT NULL COLLATE NOCASE, note TEXT COLLATE NOCASE, pad TEXT COLLATE RTRIM, UNIQUE (snapshot_id, note));
INSERT INTO snapshot_notes SELECT id, 'Note ' || rowid, 'pad  ' FROM snapshots;
CREATE INDEX snapshot_notes_pad ON snapshot_notes (pad);
${rewrite('snapshot_notes', 'pad TEXT COLLATE RTRIM', 'pad TEXT COLLATE agent_order')}
${rewrite('snapshot_notes_pad', '(pad)', '(pad COLLATE agent_order)')}`,
  },
  collationCompared: {
    title: '`COLLATE agent_order` on `snapshot_files.snapshot_id`, a column the pruning compares',
    layout: 'v1', snapshot: 'awkward', expect: 'UNSAFE_SCHEMA',
    sql: rewrite('snapshot_files', 'snapshot_id TEXT NOT NULL', 'snapshot_id TEXT NOT NULL COLLATE agent_order'),
  },
  collationUnique: {
    title: 'a unique index `COLLATE agent_order` on an exported table',
    layout: 'v1', snapshot: 'awkward', expect: 'UNSAFE_SCHEMA',
    sql: `CREATE UNIQUE INDEX agent_tags_ordered ON snapshot_tags (snapshot_id, tag);
${rewrite('agent_tags_ordered', 'tag)', 'tag COLLATE agent_order)')}`,
  },
  types: {
    title: 'declared types holding comments and a newline (`INT /* ; */ EGER`, `CHAR -- x⏎ VARYING(3)`), quoted types, `DOUBLE PRECISION`',
    layout: 'v2', snapshot: 'awkward', expect: 'exported',
    sql: `CREATE TABLE snapshot_odd (snapshot_id TEXT, a INT /* ; */ EGER, b CHAR -- x
  VARYING(3), c DOUBLE /* , */ PRECISION, d "VARCHAR" (10), e DOUBLE PRECISION, f NUMERIC(10, 2), g);
INSERT INTO snapshot_odd SELECT id, v, v, v, v, v, v, v FROM snapshots, (SELECT '12' AS v UNION ALL SELECT 12 UNION ALL SELECT 1.5 UNION ALL SELECT X'01' UNION ALL SELECT 'x');`,
  },
  tableKinds: {
    title: 'agents\' tables WITHOUT ROWID (skipped, named) and STRICT (kept STRICT: `ANY` keeps `\'123\'` as text)',
    layout: 'v2', snapshot: 'awkward', expect: 'exported', referenceSql: 'DROP TABLE snapshot_wr;',
    sql: `CREATE TABLE snapshot_wr (snapshot_id TEXT, k TEXT, PRIMARY KEY (snapshot_id, k)) WITHOUT ROWID;
INSERT INTO snapshot_wr SELECT id, 'k' FROM snapshots;
CREATE TABLE snapshot_strict (snapshot_id TEXT, v ANY, n INTEGER) STRICT;
INSERT INTO snapshot_strict SELECT id, '123', 1 FROM snapshots UNION ALL SELECT id, 123, 2 FROM snapshots UNION ALL SELECT id, 1.5, 3 FROM snapshots
  UNION ALL SELECT id, X'00', 4 FROM snapshots;`,
  },
  names: {
    title: 'names with quotes, `;--`, tabs, control characters, non-Latin letters, and a newline followed by `.shell …`',
    layout: 'v1', snapshot: 'awkward', expect: 'exported',
    sql: `CREATE TABLE "snapshot ""odd"" ;--" ("snapshot_id" TEXT, "it's ""q"" ;--" TEXT, "a
.shell touch ${SENTINEL}
b" INTEGER, "tab	x${String.fromCharCode(1, 27, 127)}" TEXT, "日本" TEXT);
CREATE INDEX "idx
.shell touch ${SENTINEL}" ON "snapshot ""odd"" ;--" ("it's ""q"" ;--");
INSERT INTO "snapshot ""odd"" ;--" SELECT id, 'q', 1, 't', '日' FROM snapshots;`,
  },
  nameCarriageReturn: {
    title: 'a column name holding a carriage return, on an exported table',
    layout: 'v1', snapshot: 'awkward', expect: 'UNSAFE_SCHEMA',
    sql: 'CREATE TABLE snapshot_cr (snapshot_id TEXT, "a\rb" TEXT);',
  },
  indexNameCarriageReturn: {
    title: 'an index name holding a carriage return, on an exported table',
    layout: 'v1', snapshot: 'awkward', expect: 'UNSAFE_SCHEMA',
    sql: 'CREATE INDEX "files\rby size" ON files (size);',
  },
  nameNotUtf8: {
    title: 'a column name that is not UTF-8, on an exported table',
    layout: 'v1', snapshot: 'awkward', expect: 'UNSAFE_SCHEMA',
    sql: `CREATE TABLE snapshot_latin1 (snapshot_id TEXT, caf TEXT);
${rewrite('snapshot_latin1', 'caf TEXT', 'caf')}
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'caf)', '"caf' || CAST(X'E9' AS TEXT) || '")') WHERE name = 'snapshot_latin1';
PRAGMA writable_schema = OFF;`,
  },
  checkOnAdded: {
    title: 'a `CHECK` on `snapshot_blobs` that the rows the export adds violate',
    layout: 'v1', snapshot: 'dedupOnly', expect: 'exported',
    // The sqlite3 CLI's pruning would run it, and stop.
    referenceSql: rewrite('snapshot_blobs', ', CHECK (agent_verified = 1)', ''),
    sql: rewrite('snapshot_blobs', 'PRIMARY KEY (snapshot_id, blob_hash)', 'PRIMARY KEY (snapshot_id, blob_hash), CHECK (agent_verified = 1)'),
  },
  defaultOnAdded: {
    title: '`snapshot_blobs.agent_verified NOT NULL DEFAULT (zeroblob(1000000001))`, a snapshot that needs rows added',
    layout: 'v1', snapshot: 'dedupOnly', expect: 'UNSAFE_SCHEMA',
    // Every row rewritten first, so each stores the column.
    sql: `UPDATE snapshot_blobs SET agent_verified = agent_verified;\n${rewrite('snapshot_blobs', 'DEFAULT 0', 'DEFAULT (zeroblob(1000000001))')}`,
  },
  defaultNotNeeded: {
    title: 'the same, a snapshot that lists every blob it needs',
    layout: 'v1', snapshot: 'full', expect: 'exported',
    sql: `${listEveryBlob('full')}\nUPDATE snapshot_blobs SET agent_verified = agent_verified;\n${rewrite('snapshot_blobs', 'DEFAULT 0', 'DEFAULT (zeroblob(1000000001))')}`,
  },
  defaultUnread: {
    title: 'the same DEFAULT over rows older than the column (SQLite reads them as NULL)',
    layout: 'v1', snapshot: 'full', expect: 'UNSAFE_SCHEMA',
    sql: `${listEveryBlob('full')}\n${rewrite('snapshot_blobs', 'DEFAULT 0', 'DEFAULT (zeroblob(1000000001))')}`,
  },
} satisfies Record<string, SchemaCase>;
