// The fixtures, the sample index, the reference pruning and the comparator
// are what the export is tested against: this proves they are what they
// claim, with Debian's sqlite3 CLI as the judge.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sampleIndex, sampleIndexSql, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { SCHEMA_FILES, schemaSql } from '../../lib/sample/schemas.ts';
import type { LayoutShortName } from '../../lib/core/layout.ts';
import { compareDatabases, tableRowCounts } from '../support/compare.ts';
import { buildFixtureFile, fixtureIds, type FixtureIds } from '../support/fixtures.ts';
import { nativePrune } from '../support/native-prune.ts';
import { sqlite, sqliteJson, sqliteValue } from '../support/sqlite-cli.ts';
import { sqlText } from '../../lib/core/sql-text.ts';

const LAYOUTS: LayoutShortName[] = ['v1', 'v2'];
const SHARED = new URL('../../../shared/index-schemas/', import.meta.url);

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'snapmeta-fixtures-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('lib/sample/schemas are byte-for-byte copies of ../shared/index-schemas', { skip: !existsSync(SHARED) && 'no ../shared here' }, () => {
  for (const file of Object.values(SCHEMA_FILES)) {
    assert.deepEqual(readFileSync(new URL(`../../lib/sample/schemas/${file}`, import.meta.url)), readFileSync(new URL(file, SHARED)), file);
  }
});

const count = (db: string, sql: string) => Number(sqliteValue(db, sql));

/** Layout-specific column names, spelled out here rather than taken from the code under test. */
const COLS = {
  v1: { fileKey: 'path', sfRef: 'file_path', fcRef: 'path', cfRef: 'file_path', blobKey: 'blob_hash', blobRef: 'blob_hash' },
  v2: { fileKey: 'id', sfRef: 'file_id', fcRef: 'file_id', cfRef: 'file_id', blobKey: 'id', blobRef: 'blob_id' },
} as const;

for (const layout of LAYOUTS) {
  describe(`${layout} fixture`, () => {
    const c = COLS[layout];
    let db: string;
    let ids: FixtureIds;
    const S = (k: keyof FixtureIds) => sqlText(ids[k]);
    // Blob keys a snapshot's files need, through their chunks.
    const neededBlobs = (k: keyof FixtureIds) => `SELECT DISTINCT bc.${c.blobRef} FROM snapshot_files sf
      JOIN file_chunks fc ON fc.${c.fcRef} = sf.${c.sfRef} JOIN blob_chunks bc ON bc.chunk_hash = fc.chunk_hash
      WHERE sf.snapshot_id = ${S(k)}`;

    before(async () => {
      const dir = mkdtempSync(join(tmp, `${layout}-`));
      db = await buildFixtureFile(layout, dir);
      ids = fixtureIds(layout);
    });

    test('opens intact, is small, and has every table, column and index of the schema file', () => {
      assert.equal(sqliteValue(db, 'PRAGMA integrity_check'), 'ok');
      assert.ok(statSync(db).size < 1024 * 1024);
      const listing = `SELECT m.type || ' ' || m.name || coalesce('.' || p.name, '') AS o FROM sqlite_schema m
        LEFT JOIN pragma_table_info(m.name) p ON m.type = 'table' WHERE m.type IN ('table', 'index') AND m.name NOT LIKE 'sqlite_%'`;
      const want = sqliteJson<{ o: string }>(':memory:', `${schemaSql(layout)}\n${listing};`).map((r) => r.o);
      const have = new Set(sqliteJson<{ o: string }>(db, listing).map((r) => r.o));
      assert.ok(want.length > 40);
      assert.deepEqual(want.filter((o) => !have.has(o)), []);
    });

    test('the sample snapshots share files; the incremental one uploaded some blobs and needs older ones', () => {
      assert.ok(count(db, `SELECT count(*) FROM snapshot_files a JOIN snapshot_files b ON b.${c.sfRef} = a.${c.sfRef}
        WHERE a.snapshot_id = ${S('full')} AND b.snapshot_id = ${S('incremental')}`) >= 10);
      assert.ok(count(db, `SELECT count(*) FROM snapshot_blobs WHERE snapshot_id = ${S('incremental')}`) > 0);
      assert.ok(count(db, `SELECT count(*) FROM (${neededBlobs('incremental')}) n WHERE n.${c.blobRef} NOT IN
        (SELECT ${c.blobRef} FROM snapshot_blobs WHERE snapshot_id = ${S('incremental')})`) > 0);
    });

    test('the dedup-only snapshot uploaded nothing, yet every chunk of its files sits in an older blob', () => {
      assert.equal(count(db, `SELECT count(*) FROM snapshot_blobs WHERE snapshot_id = ${S('dedupOnly')}`), 0);
      if (layout === 'v2') assert.equal(count(db, `SELECT count(*) FROM uploads WHERE snapshot_id = ${S('dedupOnly')}`), 0);
      const chunks = `SELECT fc.chunk_hash FROM snapshot_files sf JOIN file_chunks fc ON fc.${c.fcRef} = sf.${c.sfRef}
        WHERE sf.snapshot_id = ${S('dedupOnly')}`;
      assert.ok(count(db, `SELECT count(*) FROM (${chunks})`) >= 5);
      assert.equal(count(db, `SELECT count(*) FROM (${chunks}) x WHERE x.chunk_hash NOT IN (SELECT chunk_hash FROM blob_chunks)`), 0);
      assert.equal(count(db, `SELECT count(*) FROM (${neededBlobs('dedupOnly')}) n WHERE n.${c.blobRef} NOT IN
        (SELECT ${c.blobRef} FROM snapshot_blobs WHERE snapshot_id IN (${S('full')}, ${S('incremental')}))`), 0);
    });

    test('only the incomplete snapshot has a NULL completed_at', () => {
      assert.deepEqual(sqliteJson(db, 'SELECT id FROM snapshots WHERE completed_at IS NULL'), [{ id: ids.incomplete }]);
      assert.equal(count(db, "SELECT count(*) FROM snapshots WHERE typeof(completed_at) = 'integer'"), 5);
    });

    test('orphans, odd blobs, a missing file, an empty file and the agent additions are there', () => {
      const n = (sql: string) => count(db, `SELECT count(*) FROM ${sql}`);
      assert.ok(n(`files WHERE ${c.fileKey} NOT IN (SELECT ${c.sfRef} FROM snapshot_files)`) >= 1, 'orphan file');
      assert.ok(n('chunks WHERE chunk_hash NOT IN (SELECT chunk_hash FROM file_chunks)') >= 1, 'orphan chunk');
      assert.ok(n(`blobs WHERE ${c.blobKey} NOT IN (SELECT bc.${c.blobRef} FROM blob_chunks bc JOIN file_chunks fc USING (chunk_hash))`) >= 2, 'orphan blobs');
      assert.equal(n(`snapshot_blobs WHERE snapshot_id = ${S('awkward')} AND ${c.blobRef} NOT IN (${neededBlobs('awkward')})`), 1,
        'a blob awkward uploaded but none of its files use');
      assert.equal(n('(SELECT chunk_hash FROM blob_chunks GROUP BY chunk_hash HAVING count(*) = 2)'), 1, 'a chunk in two blobs');
      assert.equal(n(`snapshot_files WHERE snapshot_id = ${S('awkward')} AND ${c.sfRef} NOT IN (SELECT ${c.fileKey} FROM files)`), 1, 'missing file');
      assert.equal(n(`files WHERE size = 0 AND ${c.fileKey} NOT IN (SELECT ${c.fcRef} FROM file_chunks)`), 1, 'empty file');
      if (layout === 'v2') {
        assert.equal(n(`blobs WHERE blob_hash IS NULL AND id NOT IN
          (SELECT bc.blob_id FROM blob_chunks bc JOIN file_chunks fc USING (chunk_hash))`), 1, 'unused unfinished blob');
      }
      const objects = sqliteJson<{ o: string }>(db, "SELECT type || ' ' || name AS o FROM sqlite_schema WHERE name LIKE 'agent%' OR name LIKE 'snapshot_tags' OR name LIKE 'sqlite_stat%' ORDER BY 1").map((r) => r.o);
      assert.deepEqual(objects, ['index agent_idx_files_mtime', 'table agent_state', 'table snapshot_tags', 'table sqlite_stat1',
        'trigger agent_file_deleted', 'view agent_snapshot_sizes']);
      assert.deepEqual(sqliteJson(db, "SELECT name FROM pragma_table_info('files') WHERE name = 'agent_meta'"), [{ name: 'agent_meta' }]);
    });

    test('awkward values are stored with the intended types and read back exactly', () => {
      const tv = (col: string) => `typeof(${col}) || ':' || quote(${col})`;
      const file = (pathLike: string, cols: string[]) =>
        sqliteJson<Record<string, string>>(db, `SELECT ${cols.map((x) => `${tv(x)} AS ${x}`).join(', ')} FROM files WHERE path LIKE ${sqlText(pathLike)}`)[0];
      const quotes = file(`/srv/it's%`, ['mtime', 'size', 'agent_meta', 'link_target', ...(layout === 'v1' ? ['ctime'] : [])]);
      assert.equal(quotes.mtime, 'integer:9223372036854775807');
      assert.equal(quotes.size, 'integer:9007199254740993');
      assert.equal(quotes.agent_meta, 'real:0.1');
      assert.equal(quotes.link_target, 'null:NULL');
      if (layout === 'v1') assert.equal(quotes.ctime, 'integer:-9223372036854775808');
      assert.equal(sqliteValue(db, `SELECT CAST(mtime AS TEXT) FROM files WHERE path LIKE '/srv/it''s%'`), '9223372036854775807');
      assert.equal(file('/srv/tab%', ['mtime']).mtime, 'integer:-9223372036854775808');
      assert.equal(file('/srv/tab%', ['agent_meta']).agent_meta, 'real:1.0e-300');
      assert.equal(sqliteValue(db, "SELECT agent_meta = 1.7976931348623157e308 AND typeof(agent_meta) = 'real' FROM files WHERE path LIKE '/srv/unicod%'"), '1');
      assert.equal(sqliteValue(db, "SELECT typeof(agent_meta) || ':' || (agent_meta = 0) FROM files WHERE path LIKE '/deep/%'"), 'real:1');
      assert.equal(file('/srv/empty', ['agent_meta']).agent_meta, 'real:3.0');
      assert.equal(file('/srv/blob-meta.bin', ['agent_meta']).agent_meta, "blob:X'00FF0A0D27225C'");
      assert.equal(sqliteValue(db, 'SELECT count(*) FROM files WHERE agent_meta IS NULL'), String(count(db, 'SELECT count(*) FROM files') - 8));
      // Text byte for byte: quotes, tab, \n, \r\n, é, 中文, emoji, 4 KB.
      const hexOf = (s: string) => Buffer.from(s).toString('hex').toUpperCase();
      const paths = sqliteJson<{ h: string; n: number }>(db, "SELECT hex(path) AS h, length(path) AS n FROM files WHERE path LIKE '/srv/%' OR path LIKE '/deep/%'");
      for (const want of [`/srv/it's a "quoted" name.txt`, '/srv/tab\there\nnewline\r\ncrlf.txt', '/srv/unicodé/中文/😀.txt']) {
        assert.ok(paths.some((p) => p.h === hexOf(want)), want);
      }
      assert.ok(paths.some((p) => p.n === 4096));
      assert.equal(sqliteValue(db, "SELECT hex(link_target) FROM files WHERE path = '/srv/lien'"), hexOf('cible é 中文 😀'));
      // A default that ALTER TABLE gave existing rows without storing it.
      assert.equal(sqliteValue(db, `SELECT agent_label FROM snapshots WHERE id = ${S('full')}`), 'nightly');
      assert.equal(sqliteValue(db, `SELECT ${tv('total_size')} || ' ' || ${tv('compression_ratio')} FROM snapshots WHERE id = ${S('awkward')}`),
        'integer:9223372036854775807 real:0.1');
    });

    test('native prune: hand-checked counts for the awkward, empty and missing snapshots', () => {
      const prune = (k: keyof FixtureIds) => {
        const dest = join(tmp, `${layout}-hand-${k}.db`);
        nativePrune(db, dest, layout, ids[k]);
        return dest;
      };
      const uploads = (n: number) => (layout === 'v2' ? { uploads: n } : {});
      const awkward = prune('awkward');
      // 7 files + 1 missing; chunks from-full, awk-new, two-blobs, from-incremental;
      // two-blobs sits in 2 blobs; blobs: awkward, dup and one of each sample snapshot.
      assert.deepEqual(tableRowCounts(awkward), {
        snapshots: 1, snapshot_files: 8, files: 7, file_chunks: 7, chunk_files: 6, chunks: 4, blob_chunks: 5, blobs: 4,
        snapshot_blobs: 4, snapshot_tags: 2, ...uploads(2),
      });
      // Its own upload keeps its row; the unused one goes; three are added with the column default.
      assert.deepEqual(sqliteJson(awkward, 'SELECT agent_verified AS v, count(*) AS n FROM snapshot_blobs GROUP BY 1'), [{ v: 0, n: 3 }, { v: 1, n: 1 }]);
      assert.equal(sqliteValue(awkward, "SELECT count(*) FROM sqlite_schema WHERE type IN ('trigger', 'view')"), '0');
      const zero = { snapshot_files: 0, files: 0, file_chunks: 0, chunk_files: 0, chunks: 0, blob_chunks: 0, blobs: 0, snapshot_blobs: 0, snapshot_tags: 0, ...uploads(0) };
      assert.deepEqual(tableRowCounts(prune('empty')), { snapshots: 1, ...zero });
      assert.deepEqual(tableRowCounts(prune('missing')), { snapshots: 0, ...zero });
    });

    test('native prune of every snapshot keeps what a JS model of the rules expects', () => {
      const all = (table: string, cols: string[]) => sqliteJson<Record<string, string>>(db,
        `SELECT ${cols.map((x) => `quote(${x}) AS ${x}`).join(', ')} FROM ${table}`);
      const files = all('files', [c.fileKey]);
      const sf = all('snapshot_files', ['snapshot_id', c.sfRef]);
      const fc = all('file_chunks', [c.fcRef, 'chunk_hash']);
      const cf = all('chunk_files', [c.cfRef]);
      const chunks = all('chunks', ['chunk_hash']);
      const bc = all('blob_chunks', [c.blobRef, 'chunk_hash']);
      const blobs = all('blobs', [c.blobKey, 'blob_hash']);
      const sb = all('snapshot_blobs', ['snapshot_id', c.blobRef]);
      const tags = all('snapshot_tags', ['snapshot_id']);
      const uploads = layout === 'v2' ? all('uploads', ['snapshot_id']) : [];
      const snapshots = all('snapshots', ['id']);
      for (const id of Object.values(ids)) {
        const S = sqlText(id);
        const keptSf = sf.filter((r) => r.snapshot_id === S);
        const fileKeys = new Set(keptSf.map((r) => r[c.sfRef]));
        const keptFiles = new Set(files.map((r) => r[c.fileKey]).filter((k) => fileKeys.has(k)));
        const keptFc = fc.filter((r) => keptFiles.has(r[c.fcRef]));
        const H = new Set(keptFc.map((r) => r.chunk_hash));
        const keptBc = bc.filter((r) => H.has(r.chunk_hash));
        const blobKeys = new Set(keptBc.map((r) => r[c.blobRef]));
        const keptBlobs = blobs.filter((r) => blobKeys.has(r[c.blobKey]));
        const ownSb = new Set(sb.filter((r) => r.snapshot_id === S && blobKeys.has(r[c.blobRef])).map((r) => r[c.blobRef]));
        const added = keptBlobs.filter((b) => !ownSb.has(b[c.blobKey]) && b.blob_hash !== 'NULL');
        const expected: Record<string, number> = {
          snapshots: snapshots.filter((r) => r.id === S).length,
          snapshot_files: keptSf.length,
          files: keptFiles.size,
          file_chunks: keptFc.length,
          chunk_files: cf.filter((r) => keptFiles.has(r[c.cfRef])).length,
          chunks: chunks.filter((r) => H.has(r.chunk_hash)).length,
          blob_chunks: keptBc.length,
          blobs: keptBlobs.length,
          snapshot_blobs: ownSb.size + added.length,
          snapshot_tags: tags.filter((r) => r.snapshot_id === S).length,
          ...(layout === 'v2' ? { uploads: uploads.filter((r) => r.snapshot_id === S).length } : {}),
        };
        const dest = join(tmp, `${layout}-model.db`);
        nativePrune(db, dest, layout, id);
        assert.deepEqual(tableRowCounts(dest), expected, id);
        assert.equal(sqliteValue(dest, 'PRAGMA integrity_check'), 'ok');
      }
    });

    test('compareDatabases finds a changed value, a changed type, a missing row and a schema change', () => {
      const copy = (name: string, sql?: string) => {
        const path = join(tmp, `${layout}-cmp-${name}.db`);
        copyFileSync(db, path);
        if (sql) sqlite(path, sql);
        return path;
      };
      assert.deepEqual(compareDatabases(db, copy('same')), []);
      const value = compareDatabases(db, copy('value', "UPDATE files SET mtime = mtime + 1 WHERE path LIKE '/srv/empty'"));
      assert.equal(value[0], 'table files: 2 rows differ (a has 22 rows, b has 22)');
      assert.match(value.join('\n'), /only in a: .*integer:1795316000,/);
      assert.match(value.join('\n'), /only in b: .*integer:1795316001,/);
      const type = compareDatabases(db, copy('type', 'UPDATE files SET agent_meta = 3 WHERE agent_meta = 3.0'));
      assert.match(type.join('\n'), /only in a: .*real:3\.0\n.*only in b: .*integer:3$/);
      const big = compareDatabases(db, copy('big', 'UPDATE files SET mtime = mtime - 1 WHERE mtime = 9223372036854775807'));
      assert.match(big.join('\n'), /integer:9223372036854775806/);
      const row = compareDatabases(db, copy('row', 'DELETE FROM chunks WHERE rowid = 1'));
      assert.equal(row.length, 2);
      assert.match(row[0], /^table chunks: 1 rows differ \(a has (\d+) rows, b has \d+\)$/);
      assert.match(row[1], /^ {2}only in a: text:'[0-9a-f]{64}'/);
      assert.deepEqual(compareDatabases(db, copy('index', 'CREATE INDEX extra ON files (size)')), ['index extra only in b']);
      assert.deepEqual(compareDatabases(copy('drop', 'DROP VIEW agent_snapshot_sizes'), db), ['view agent_snapshot_sizes only in b']);
    });

    test('compareDatabases compares the structure SQLite reports, not the CREATE text', () => {
      const copy = (name: string, sql: string) => {
        const path = join(tmp, `${layout}-shape-${name}.db`);
        copyFileSync(db, path);
        sqlite(path, sql);
        return path;
      };
      const edit = (from: string, to: string) => `PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, ${sqlText(from)}, ${sqlText(to)}) WHERE name = 'snapshot_tags';`;
      // Another text for the same table: no difference.
      assert.deepEqual(compareDatabases(db, copy('text', edit('(snapshot_id TEXT, tag TEXT NOT NULL)', '( "snapshot_id" TEXT /* ; */, [tag]\nTEXT NOT NULL) -- note'))), []);
      const tag = (name: string, to: string) => compareDatabases(db, copy(name, edit('tag TEXT NOT NULL', to)));
      assert.deepEqual(tag('collation', 'tag TEXT NOT NULL COLLATE NOCASE'),
        ['table snapshot_tags: column tag differs (a: TEXT NOT NULL COLLATE BINARY; b: TEXT NOT NULL COLLATE NOCASE)']);
      assert.deepEqual(tag('type', 'tag VARCHAR(9) NOT NULL'), ['table snapshot_tags: column tag differs (a: TEXT NOT NULL COLLATE BINARY; b: VARCHAR(9) NOT NULL COLLATE BINARY)']);
      assert.deepEqual(tag('null', 'tag TEXT'), ['table snapshot_tags: column tag differs (a: TEXT NOT NULL COLLATE BINARY; b: TEXT COLLATE BINARY)']);
      assert.deepEqual(tag('default', "tag TEXT NOT NULL DEFAULT 'x'"), ["table snapshot_tags: column tag differs (a: TEXT NOT NULL COLLATE BINARY; b: TEXT NOT NULL DEFAULT 'x' COLLATE BINARY)"]);
      assert.deepEqual(compareDatabases(db, copy('generated', 'ALTER TABLE snapshot_tags ADD COLUMN shout AS (upper(tag))')),
        ['table snapshot_tags: column shout only in b ((no type) generated (hidden=2))']);
      assert.deepEqual(compareDatabases(db, copy('desc', "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, '(mtime)', '(mtime DESC)') WHERE name = 'agent_idx_files_mtime'")),
        ['index agent_idx_files_mtime differs (a: INDEX (mtime COLLATE BINARY); b: INDEX (mtime COLLATE BINARY DESC))']);
      assert.deepEqual(compareDatabases(db, copy('partial', 'CREATE INDEX p ON files (mtime) WHERE mtime > 0; CREATE INDEX e ON files (mtime + 1)')),
        ['index e only in b', 'index p only in b']);
      assert.deepEqual(compareDatabases(db, copy('unique', "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, 'k TEXT PRIMARY KEY', 'k TEXT UNIQUE') WHERE name = 'agent_state'")),
        ['table agent_state: column k differs (a: TEXT pk=1 COLLATE BINARY; b: TEXT COLLATE BINARY)',
          'table agent_state: primary key (k COLLATE BINARY) only in a', 'table agent_state: unique key (k COLLATE BINARY) only in b']);
    });
  });
}

describe('sample index', () => {
  for (const layout of LAYOUTS) {
    test(`${layout}: built by the sqlite3 CLI, it is a realistic incremental backup index, identical in sql.js`, async () => {
      const opts: SampleIndexOptions = { layout, snapshots: 4, filesPerSnapshot: 300, chunksPerBlob: 16, seed: 3 };
      const db = join(tmp, `sample-${layout}.db`);
      sqlite(db, sampleIndexSql(opts));
      const c = COLS[layout];
      const n = (sql: string) => count(db, sql);
      assert.equal(sqliteValue(db, 'PRAGMA integrity_check'), 'ok');
      if (layout === 'v2') assert.deepEqual(sqliteJson(db, 'PRAGMA foreign_key_check'), []);

      const ids = sampleSnapshotIds(opts);
      assert.deepEqual(sqliteJson<{ id: string }>(db, 'SELECT id FROM snapshots ORDER BY started_at').map((r) => r.id), ids);
      assert.deepEqual(ids, ['18', '19', '20', '21'].map((d) => `web1.example.com_2026-11-${d}T03:00:00Z`));
      assert.equal(n('SELECT count(*) FROM snapshots WHERE completed_at > started_at AND typeof(started_at) = \'integer\''), 4);

      // Hex sha256-looking hashes, UUID-looking ids, all unique (they are keys).
      assert.equal(n("SELECT count(*) FROM chunks WHERE length(chunk_hash) <> 64 OR chunk_hash GLOB '*[^0-9a-f]*'"), 0);
      assert.equal(n("SELECT count(*) FROM blobs WHERE length(blob_hash) <> 64 OR blob_hash GLOB '*[^0-9a-f]*'"), 0);
      if (layout === 'v2') {
        const uuid = "'[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-*-4*-*-*'";
        assert.equal(n(`SELECT count(*) FROM files WHERE length(id) <> 36 OR NOT id GLOB ${uuid}`), 0);
        assert.equal(n(`SELECT count(*) FROM blobs WHERE length(id) <> 36 OR NOT id GLOB ${uuid}`), 0);
      }

      for (let s = 0; s + 1 < ids.length; s++) {
        const [a, b] = [sqlText(ids[s]), sqlText(ids[s + 1])];
        const shared = n(`SELECT count(*) FROM snapshot_files x JOIN snapshot_files y ON y.${c.sfRef} = x.${c.sfRef}
          WHERE x.snapshot_id = ${a} AND y.snapshot_id = ${b}`);
        assert.ok(shared >= 270 && shared < 300, `snapshots ${s} and ${s + 1} share ${shared} of 300 files`);
        // The later snapshot needs blobs the earlier one uploaded, and uploaded some of its own.
        assert.ok(n(`SELECT count(DISTINCT bc.${c.blobRef}) FROM snapshot_files sf JOIN file_chunks fc ON fc.${c.fcRef} = sf.${c.sfRef}
          JOIN blob_chunks bc USING (chunk_hash) JOIN snapshot_blobs sb ON sb.${c.blobRef} = bc.${c.blobRef}
          WHERE sf.snapshot_id = ${b} AND sb.snapshot_id = ${a}`) > 0);
        assert.ok(n(`SELECT count(*) FROM snapshot_blobs WHERE snapshot_id = ${b}`) > 0);
      }
      // Each blob was uploaded by exactly one snapshot, and each chunk stored once.
      assert.equal(n(`SELECT count(*) FROM blobs WHERE (SELECT count(*) FROM snapshot_blobs sb WHERE sb.${c.blobRef} = blobs.${c.blobKey}) <> 1`), 0);
      assert.equal(n('SELECT count(*) FROM (SELECT chunk_hash FROM blob_chunks GROUP BY 1 HAVING count(*) > 1)'), 0);
      if (layout === 'v2') {
        assert.equal(n('SELECT count(*) FROM uploads u JOIN snapshot_blobs sb USING (blob_hash) WHERE sb.snapshot_id = u.snapshot_id'),
          n('SELECT count(*) FROM snapshot_blobs'));
      }
      // Deduplication across files, and blobs holding many chunks.
      assert.ok(n(`SELECT count(*) FROM (SELECT chunk_hash FROM file_chunks GROUP BY 1 HAVING count(DISTINCT ${c.fcRef}) > 1)`) > 10);
      assert.ok(n(`SELECT avg(n) FROM (SELECT count(*) AS n FROM blob_chunks GROUP BY ${c.blobRef})`) > 8);
      // Offsets are consistent with lengths.
      assert.equal(n(`SELECT count(*) FROM files f WHERE size <> coalesce((SELECT sum(c.size) FROM file_chunks fc
        JOIN chunks c USING (chunk_hash) WHERE fc.${c.fcRef} = f.${c.fileKey}), 0) AND link_target IS NULL`), 0);

      const viaSqlJs = join(tmp, `sample-${layout}-sqljs.db`);
      writeFileSync(viaSqlJs, await sampleIndex(opts));
      assert.deepEqual(compareDatabases(db, viaSqlJs), []);
    });
  }

  test('targetBytes sizes the index, and the seed changes every hash', () => {
    for (const layout of LAYOUTS) {
      const db = join(tmp, `sized-${layout}.db`);
      sqlite(db, sampleIndexSql({ layout, targetBytes: 4_000_000 }));
      const size = statSync(db).size;
      assert.ok(size > 3_000_000 && size < 5_000_000, `${layout}: ${size} bytes`);
    }
    const hashes = (seed: number) => sqliteJson<{ h: string }>(':memory:',
      `${sampleIndexSql({ layout: 'v1', filesPerSnapshot: 5, seed })}\nSELECT chunk_hash AS h FROM chunks ORDER BY rowid;`).map((r) => r.h);
    const [one, two] = [hashes(1), hashes(2)];
    assert.deepEqual(hashes(1), one);
    assert.equal(one.filter((h) => two.includes(h)).length, 0);
  });
});
