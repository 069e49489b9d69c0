// dumpSql on the small fixtures: the statements' shape, the values that need
// spelling (CR, text that is not UTF-8), the rows it refuses. Each dump is
// replayed in sql.js, as `snapmeta restore` replays it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dumpSql } from '../../lib/core/dump.ts';
import { SnapmetaError, type ErrorCode } from '../../lib/core/errors.ts';
import type { Plan } from '../../lib/core/prune.ts';
import { all, loadSqlJs, type Database } from '../../lib/core/sqlite.ts';
import { keptTable, openFixture, planOf } from './open-fixture.ts';

const HEADER = 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n';
const FOOTER = 'COMMIT;\n';

function dumpText(db: Database, plan: Plan): { text: string; chunks: string[] } {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const chunks = [...dumpSql(db, plan)].map((chunk) => decoder.decode(chunk));
  return { text: chunks.join(''), chunks };
}

async function replayed(text: string): Promise<Database> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  db.exec(text);
  return db;
}

/** A table of an agent's whose column `verified` was added NOT NULL after its rows, then given `declared` instead. */
const notNullAddedLater = (declared: string) => `
CREATE TABLE snapshot_checks (snapshot_id TEXT, note TEXT);
INSERT INTO snapshot_checks SELECT id, 'checked' FROM snapshots;
ALTER TABLE snapshot_checks ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'verified INTEGER NOT NULL DEFAULT 0', '${declared}') WHERE name = 'snapshot_checks';
PRAGMA writable_schema = OFF;`;

const refusal = (code: ErrorCode, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof SnapmetaError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return true;
};

describe('dumpSql', () => {
  it('writes the header, each CREATE TABLE before its INSERTs, the indexes, then the footer; every chunk ends a statement', async () => {
    const { db, ids } = await openFixture('v1');
    const plan = planOf(db, ids.full);
    const { text, chunks } = dumpText(db, plan);
    assert.ok(text.startsWith(HEADER));
    assert.ok(text.endsWith(FOOTER));
    assert.ok(chunks.every((chunk) => chunk.endsWith(';\n')));
    const lastInsert = text.lastIndexOf('\nINSERT INTO ');
    for (const kept of plan.tables) {
      const create = text.indexOf(`${kept.create};\n`);
      assert.ok(create > 0, kept.table.name);
      const inserts = text.split('\n').filter((line) => line.startsWith(`INSERT INTO ${kept.table.name} VALUES(`));
      assert.equal(inserts.length, kept.rows, kept.table.name);
      if (kept.rows) assert.ok(text.indexOf(`INSERT INTO ${kept.table.name} VALUES(`) > create);
    }
    assert.ok(plan.indexes.length > 0);
    for (const index of plan.indexes) assert.ok(text.indexOf(`${index};\n`) > lastInsert, index);

    const restored = await replayed(text);
    for (const kept of plan.tables) {
      assert.equal(all(restored, `SELECT count(*) FROM "${kept.table.name}"`)[0][0], kept.rows, kept.table.name);
    }
  });

  it('keeps 64-bit integers, reals and blobs exact, with their storage classes', async () => {
    const { db, ids } = await openFixture('v1');
    const plan = planOf(db, ids.awkward);
    const restored = await replayed(dumpText(db, plan).text);
    const exact = "SELECT path, mtime, ctime, size, quote(agent_meta), typeof(agent_meta) FROM files ORDER BY path";
    assert.deepEqual(all(restored, exact), all(db, exact.replace('FROM files', `FROM files WHERE path IN (SELECT file_path FROM snapshot_files WHERE snapshot_id = '${ids.awkward}')`)));
  });

  it('spells a carriage return as char(13), outside the quotes', async () => {
    const { db, ids } = await openFixture('v1');
    const { text } = dumpText(db, planOf(db, ids.awkward));
    assert.ok(!text.includes('\r'));
    assert.ok(text.includes("'||char(13)||'"));
    const restored = await replayed(text);
    assert.equal(all(restored, "SELECT count(*) FROM files WHERE path = '/srv/tab' || char(9) || 'here' || char(10) || 'newline' || char(13, 10) || 'crlf.txt'")[0][0], 1);
  });

  it('writes text that is not UTF-8 as CAST(X\'…\' AS TEXT), so the dump stays UTF-8 and the bytes exact', async () => {
    const { db, ids } = await openFixture('v1', "UPDATE files SET link_target = CAST(X'636166E9' AS TEXT) WHERE path = '/srv/lien';");
    const { text } = dumpText(db, planOf(db, ids.awkward)); // the decoder is fatal: it would throw on bytes that are not UTF-8
    assert.ok(text.includes("CAST(X'636166E9' AS TEXT)"));
    assert.ok(!text.includes('\uFFFD'));
    const restored = await replayed(text);
    assert.deepEqual(all(restored, "SELECT hex(link_target), typeof(link_target) FROM files WHERE path = '/srv/lien'"), [['636166E9', 'text']]);
  });

  it('refuses a NULL in a NOT NULL column: CORRUPT when nothing explains it', async () => {
    const { db, ids } = await openFixture('v1', notNullAddedLater('verified INTEGER NOT NULL'));
    const plan = planOf(db, ids.awkward);
    assert.equal(keptTable(plan, 'snapshot_checks').rows, 1);
    assert.throws(() => dumpText(db, plan), refusal('CORRUPT', /table snapshot_checks has a NULL in NOT NULL column verified/));
  });

  it('refuses a NULL in a NOT NULL column: UNSAFE_SCHEMA when an expression DEFAULT SQLite does not apply explains it', async () => {
    const { db, ids } = await openFixture('v1', notNullAddedLater('verified INTEGER NOT NULL DEFAULT (1 + 1)'));
    const plan = planOf(db, ids.awkward);
    assert.throws(() => dumpText(db, plan), refusal('UNSAFE_SCHEMA', /column "verified": NOT NULL, yet rows older than the column read NULL/));
  });

  it('names the NOT NULL column that holds the NULL, when another NOT NULL column comes first', async () => {
    const { db, ids } = await openFixture('v1', `ALTER TABLE snapshot_tags ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'verified INTEGER NOT NULL DEFAULT 0', 'verified INTEGER NOT NULL DEFAULT (1 + 1)') WHERE name = 'snapshot_tags';
PRAGMA writable_schema = OFF;`);
    const plan = planOf(db, ids.awkward);
    assert.throws(() => dumpText(db, plan), refusal('UNSAFE_SCHEMA', /column "verified"/));
  });

  it('refuses to publish a table short of the rows the plan kept', async () => {
    const { db, ids } = await openFixture('v1');
    const plan = planOf(db, ids.full);
    keptTable(plan, 'files').rows += 1;
    assert.throws(() => dumpText(db, plan), refusal('CORRUPT', /table files gave \d+ of its \d+ kept rows while being dumped/));
  });
});
