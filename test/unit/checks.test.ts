// The index checks: a selection counted again from its table, and the probes
// that compare a kept row with its table's unique indexes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSelections, uniqueIndexProbes, uniqueIndexes, type Selection } from '../../lib/core/checks.ts';
import { SnapmetaError } from '../../lib/core/errors.ts';
import { readSchema } from '../../lib/core/layout.ts';
import { all, loadSqlJs, type Database } from '../../lib/core/sqlite.ts';

async function database(sql: string): Promise<Database> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  db.exec(sql);
  return db;
}

const ROWS = `CREATE TABLE items (id TEXT, kind TEXT, note TEXT);
CREATE INDEX items_kind ON items (kind);
INSERT INTO items VALUES ('a', 'x', NULL), ('b', 'x', NULL), ('c', 'y', NULL);`;

const selection = (found: number): Selection => ({ table: 'items', found, from: 'main.items', where: 'kind = ?', params: ['x'] });

describe('checkSelections', () => {
  it('passes a selection the table agrees with', async () => {
    const db = await database(ROWS);
    checkSelections(db, [selection(2)]);
  });

  it('refuses, as CORRUPT, a selection whose count the table does not hold', async () => {
    const db = await database(ROWS);
    assert.throws(() => checkSelections(db, [selection(2), selection(1)]), (err: unknown) => {
      assert.ok(err instanceof SnapmetaError, String(err));
      assert.equal(err.code, 'CORRUPT');
      assert.match(err.message, /^table items: its indexes find 1 rows of the snapshot where the table holds 2: .*PRAGMA integrity_check/);
      return true;
    });
  });
});

describe('uniqueIndexes and uniqueIndexProbes', () => {
  const SCHEMA = `CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT COLLATE NOCASE, path TEXT, n INT);
CREATE UNIQUE INDEX t_name ON t (name);
CREATE UNIQUE INDEX t_path_n ON t (path, n);
CREATE UNIQUE INDEX t_lower ON t (lower(path));
CREATE UNIQUE INDEX t_partial ON t (n) WHERE n > 0;
CREATE INDEX t_plain ON t (n);
INSERT INTO t VALUES ('a', 'A', '/a', 1), ('b', 'B', '/b', 2);
CREATE TEMP TABLE keep (r INTEGER PRIMARY KEY);
INSERT INTO keep SELECT rowid FROM t;`;

  it('lists the full, column-keyed unique indexes with their collations, not expression or partial ones', async () => {
    const db = await database(SCHEMA);
    assert.deepEqual(uniqueIndexes(db, 't'), [
      { index: 'sqlite_autoindex_t_1', keys: [{ column: 'id', coll: 'BINARY' }] },
      { index: 't_name', keys: [{ column: 'name', coll: 'NOCASE' }] },
      { index: 't_path_n', keys: [{ column: 'path', coll: 'BINARY' }, { column: 'n', coll: 'BINARY' }] },
    ]);
  });

  it('probes every one but the binary index on the column the rows were selected on; each probe finds no kept row astray', async () => {
    const db = await database(SCHEMA);
    const table = readSchema(db).tables.find((t) => t.name === 't')!;
    const probes = uniqueIndexProbes(db, table, 'main.t', 'id');
    assert.deepEqual(probes.map((probe) => probe.index), ['t_name', 't_path_n']);
    const astray = probes.map((probe) => all(db, `SELECT sum(${probe.sql}) FROM temp.keep k JOIN main.t AS t ON t.rowid = k.r`)[0][0]);
    assert.deepEqual(astray, [0, 0]);
  });

  it('a probe counts a kept row its index does not hold under that rowid', async () => {
    const db = await database(SCHEMA);
    const table = readSchema(db).tables.find((t) => t.name === 't')!;
    const [byName] = uniqueIndexProbes(db, table, 'main.t', 'id');
    // As a damaged page would: row 1 read where row 2 was asked for.
    assert.equal(all(db, `SELECT sum(${byName.sql}) FROM (SELECT 2 AS r) k JOIN main.t AS t ON t.rowid = 1`)[0][0], 1);
  });
});
