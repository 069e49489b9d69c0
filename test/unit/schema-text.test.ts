// The schema the export writes (lib/core/schema-text.ts): a declared type it
// rewrites keeps its affinity by SQLite's own judgement, and only literals
// pass as DEFAULTs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { affinity, literalDefault, writableType } from '../../lib/core/schema-text.ts';
import { loadSqlJs, type SqlValue } from '../../lib/core/sqlite.ts';

const SQL = await loadSqlJs();

// Values that tell the five affinities apart once stored.
const PROBES: SqlValue[] = ['12', '1.5', 'x', 12, 1.5];

/** How SQLite stores the probes in a column declared `type` (which is spliced in as is). */
function storedAs(type: string): string {
  const db = new SQL.Database();
  try {
    db.run(`CREATE TABLE t (c ${type}\n)`);
    for (const v of PROBES) db.run('INSERT INTO t VALUES (?)', [v]);
    return db.exec('SELECT group_concat(typeof(c), \',\') FROM t')[0].values[0][0] as string;
  } finally {
    db.close();
  }
}

const words = ['INT', 'integer', 'TEXT', 'char', 'VARCHAR', 'clob', 'BLOB', 'real', 'FLOAT', 'double', 'precision', 'NUMERIC', 'decimal',
  'bigint', 'point', 'interval', 'blobby', 'my', 'type', 'ANY', 'date', 'b', 'lob', 'flo', 'at'];

test('a declared type, however odd, is written with the affinity SQLite gives it', () => {
  const typeText = fc.array(fc.oneof(fc.constantFrom(...words), fc.constantFrom('/* int */', '-- text\n', '(10)', '(10, 2)', '"VARCHAR"', '[x]')), { minLength: 1, maxLength: 4 })
    .map((parts) => parts.join(' '))
    .filter((t) => !/^\(/.test(t));
  fc.assert(fc.property(typeText, (type) => {
    let declared: string;
    try {
      declared = storedAs(type);
    } catch {
      return; // not a type SQLite's grammar takes
    }
    const db = new SQL.Database();
    try {
      db.run(`CREATE TABLE t (c ${type}\n)`);
      const read = db.exec("SELECT type FROM pragma_table_xinfo('t')")[0].values[0][0] as string;
      assert.equal(storedAs(writableType(read) || '/* none */'), declared, `${JSON.stringify(type)} (stored as ${JSON.stringify(read)}, affinity ${affinity(read)})`);
    } finally {
      db.close();
    }
  }), { numRuns: 400 });
});

test('plain types are written as declared; others as their affinity, never INTEGER (which would make a rowid)', () => {
  for (const plain of ['INTEGER', 'VARCHAR(255)', 'DECIMAL(10, 2)', 'DOUBLE PRECISION', 'UNSIGNED BIG INT', 'text', '']) assert.equal(writableType(plain), plain);
  assert.equal(writableType('INT /* ; */ EGER'), 'INT');
  assert.equal(writableType('CHAR -- x\n VARYING'), 'TEXT');
  assert.equal(writableType('"odd" type'), 'NUMERIC');
  assert.equal(writableType('VERY LONG TYPE always'), 'NUMERIC');
});

test('literal DEFAULTs pass, in their parentheses; expressions, CRs and undecodable text do not', () => {
  const literals = ["''", "'it''s\nmulti'", '0', '-1', '+1.5e3', '.5', '0x1F', "X'00ff'", 'NULL', 'true', 'CURRENT_TIMESTAMP', "('x')", '((0))', '( -1 )'];
  for (const text of literals) assert.notEqual(literalDefault(text), undefined, text);
  assert.equal(literalDefault('( -1 )'), '(-1)');
  const others = ['1 + 1', "upper('x')", '(0', '0)', "('a') || ('b')", "('a)' || ('(b')", '"dq"', "'a\rb'", "'\uFFFD'", '- 1', 'zeroblob(1)', "X'0'", '(SELECT 1)'];
  for (const text of others) assert.equal(literalDefault(text), undefined, text);
});
