// detectLayout and readSchema on schemas made in sql.js from the reference
// schema files: which layout, and what UNKNOWN_LAYOUT names when none fits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SnapmetaError } from '../../lib/core/errors.ts';
import { detectLayout, LAYOUT_NAMES, readSchema, type LayoutShortName } from '../../lib/core/layout.ts';
import { loadSqlJs } from '../../lib/core/sqlite.ts';
import { SCHEMA_FILES, schemaSql } from '../../lib/sample/schemas.ts';

/** The layout detected for the reference schema of `layout` with `sql` run after it. */
async function detect(layout: LayoutShortName | undefined, sql = '') {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  try {
    db.exec(`${layout ? schemaSql(layout) : ''}\n${sql}`);
    return detectLayout(readSchema(db));
  } finally {
    db.close();
  }
}

const unknownLayout = (message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof SnapmetaError, String(err));
  assert.equal(err.code, 'UNKNOWN_LAYOUT');
  assert.match(err.message, message);
  return true;
};

describe('detectLayout', () => {
  it('recognises each reference schema as its layout', async () => {
    assert.equal((await detect('v1')).name, 'v1-path-keyed');
    assert.equal((await detect('v2')).name, 'v2-id-keyed');
  });

  it('does not mind added columns, tables and indexes, nor column order', async () => {
    const layout = await detect('v1', `ALTER TABLE files ADD COLUMN agent_meta;
CREATE TABLE agent_state (k TEXT PRIMARY KEY, v);
CREATE INDEX agent_files_mtime ON files (mtime);
DROP TABLE chunks;
CREATE TABLE chunks (size INTEGER NOT NULL, extra TEXT, sha256 TEXT NOT NULL, chunk_hash TEXT PRIMARY KEY);`);
    assert.equal(layout.name, 'v1-path-keyed');
  });

  it('UNKNOWN_LAYOUT names the missing column and the closest layout', async () => {
    await assert.rejects(detect('v1', 'ALTER TABLE chunks DROP COLUMN sha256;'),
      unknownLayout(/closest is v1-path-keyed, missing column chunks\.sha256$/));
  });

  it('UNKNOWN_LAYOUT names a missing table', async () => {
    await assert.rejects(detect('v2', 'DROP TABLE uploads;'), unknownLayout(/closest is v2-id-keyed, missing table uploads$/));
  });

  it('UNKNOWN_LAYOUT shows at most eight of what is missing, and how many more', async () => {
    await assert.rejects(detect(undefined), unknownLayout(/missing table \w+(, table \w+){7}, and 1 more$/));
  });

  it('UNKNOWN_LAYOUT names a layout table that is WITHOUT ROWID', async () => {
    await assert.rejects(detect('v1', 'DROP TABLE blobs; CREATE TABLE blobs (blob_hash TEXT PRIMARY KEY, created_ts INTEGER NOT NULL) WITHOUT ROWID;'),
      unknownLayout(/table blobs is WITHOUT ROWID/));
  });
});

describe('layout names', () => {
  it('each short name, as --layout and the sample generator spell it, maps to its layout and schema file', async () => {
    assert.deepEqual(LAYOUT_NAMES, { v1: 'v1-path-keyed', v2: 'v2-id-keyed' });
    for (const short of Object.keys(LAYOUT_NAMES) as LayoutShortName[]) {
      assert.equal(SCHEMA_FILES[short], `${LAYOUT_NAMES[short]}.sql`);
      assert.equal((await detect(short)).name, LAYOUT_NAMES[short]);
    }
  });
});

describe('readSchema', () => {
  it('lists tables in schema order, without views, each with the name that reaches its rowid', async () => {
    const SQL = await loadSqlJs();
    const db = new SQL.Database();
    db.exec(`CREATE TABLE plain (a, b);
CREATE TABLE shadowing (rowid TEXT, v);
CREATE VIEW seen AS SELECT a FROM plain;
CREATE TABLE keyed (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE computed (a INT, twice INT GENERATED ALWAYS AS (a * 2) VIRTUAL) STRICT;`);
    const { tables } = readSchema(db);
    assert.deepEqual(tables.map(({ name, rowid, withoutRowid, strict, columns }) => ({ name, rowid, withoutRowid, strict, columns })), [
      { name: 'plain', rowid: 'rowid', withoutRowid: false, strict: false, columns: ['a', 'b'] },
      { name: 'shadowing', rowid: '_rowid_', withoutRowid: false, strict: false, columns: ['rowid', 'v'] },
      { name: 'keyed', rowid: undefined, withoutRowid: true, strict: false, columns: ['k', 'v'] },
      { name: 'computed', rowid: 'rowid', withoutRowid: false, strict: true, columns: ['a'] },
    ]);
  });
});
