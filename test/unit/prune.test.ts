// buildPlan on the small fixtures: which rows each table keeps, computed
// here from the fixture with plain joins, never from the code under test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SnapmetaError } from '../../lib/core/errors.ts';
import type { LayoutShortName } from '../../lib/core/layout.ts';
import { all } from '../../lib/core/sqlite.ts';
import { firsts, keptRows, keptTable, openFixture, planOf } from './open-fixture.ts';

/** Layout-specific column names, spelled out here rather than taken from lib/core/layout.ts. */
const COLUMNS = {
  v1: { fileKey: 'path', snapshotFile: 'file_path', fileChunk: 'path', blobKey: 'blob_hash', blobRef: 'blob_hash' },
  v2: { fileKey: 'id', snapshotFile: 'file_id', fileChunk: 'file_id', blobKey: 'id', blobRef: 'blob_id' },
} as const;

const LAYOUTS: LayoutShortName[] = ['v1', 'v2'];

describe('buildPlan', () => {
  it('keeps the files the snapshot names that exist, and warns of the one that does not', async () => {
    const { db, ids } = await openFixture('v1');
    const plan = planOf(db, ids.awkward);
    const named = all(db, 'SELECT path FROM files WHERE path IN (SELECT file_path FROM snapshot_files WHERE snapshot_id = ?) ORDER BY 1', [ids.awkward]);
    assert.equal(named.length, 7);
    assert.deepEqual(keptRows(db, plan, 'files', 'path'), named);
    assert.ok(!firsts(keptRows(db, plan, 'files', 'path')).includes('/tmp/orphan.tmp'));
    // Every snapshot_files row of S is kept, the one naming a missing file too.
    assert.equal(keptTable(plan, 'snapshot_files').rows, 8);
    assert.ok(plan.warnings.includes('1 snapshot_files rows of the snapshot name files that are not in the files table'), plan.warnings.join('\n'));
  });

  for (const layout of LAYOUTS) {
    it(`${layout}: keeps the chunks of those files, by reachability, and no other`, async () => {
      const c = COLUMNS[layout];
      const { db, ids } = await openFixture(layout);
      const plan = planOf(db, ids.incremental);
      const ofSnapshotFiles = `SELECT fc.chunk_hash FROM file_chunks fc JOIN snapshot_files sf ON sf.${c.snapshotFile} = fc.${c.fileChunk} WHERE sf.snapshot_id = ?`;
      const reached = all(db, `SELECT chunk_hash FROM chunks WHERE chunk_hash IN (${ofSnapshotFiles}) ORDER BY 1`, [ids.incremental]);
      assert.ok(reached.length > 0);
      assert.deepEqual(keptRows(db, plan, 'chunks', 'chunk_hash'), reached);
      assert.ok(reached.length < all(db, 'SELECT chunk_hash FROM chunks').length, 'other snapshots\' chunks are left out');
      const blobChunks = all(db, `SELECT chunk_hash FROM blob_chunks WHERE chunk_hash IN (${ofSnapshotFiles}) ORDER BY 1`, [ids.incremental]);
      assert.deepEqual(keptRows(db, plan, 'blob_chunks', 'chunk_hash'), blobChunks);
    });

    it(`${layout}: keeps the blobs a dedup-only snapshot needs, though it uploaded none`, async () => {
      const c = COLUMNS[layout];
      const { db, ids } = await openFixture(layout);
      assert.equal(all(db, 'SELECT 1 FROM snapshot_blobs WHERE snapshot_id = ?', [ids.dedupOnly]).length, 0);
      const plan = planOf(db, ids.dedupOnly);
      const needed = all(db, `SELECT DISTINCT b.blob_hash FROM blobs b JOIN blob_chunks bc ON bc.${c.blobRef} = b.${c.blobKey}
        JOIN file_chunks fc ON fc.chunk_hash = bc.chunk_hash JOIN snapshot_files sf ON sf.${c.snapshotFile} = fc.${c.fileChunk}
        WHERE sf.snapshot_id = ? AND b.blob_hash IS NOT NULL ORDER BY 1`, [ids.dedupOnly]);
      assert.ok(needed.length > 0);
      assert.deepEqual(plan.blobs, firsts(needed));
      assert.deepEqual(firsts(keptRows(db, plan, 'blobs', 'blob_hash')), firsts(needed));
      // …and gives it one snapshot_blobs row for each.
      assert.deepEqual(firsts(keptRows(db, plan, 'snapshot_blobs', 'blob_hash')), firsts(needed));
      assert.deepEqual([...new Set(firsts(keptRows(db, plan, 'snapshot_blobs', 'snapshot_id')))], [ids.dedupOnly]);
    });
  }

  it('snapshot_blobs: keeps S\'s own rows of kept blobs as they are, drops the others, adds the missing ones after them', async () => {
    const { db, ids } = await openFixture('v1');
    const S = ids.awkward;
    const plan = planOf(db, S);
    const own = all(db, 'SELECT rowid, blob_hash, agent_verified FROM snapshot_blobs WHERE snapshot_id = ? ORDER BY rowid', [S]);
    assert.equal(own.length, 2, 'the fixture: awkward uploaded two blobs, one its files do not use');
    const ownKept = own.filter(([, hash]) => plan.blobs.includes(hash as string));
    assert.equal(ownKept.length, 1);

    const kept = keptRows(db, plan, 'snapshot_blobs', 'rowid, blob_hash, agent_verified, snapshot_id');
    assert.deepEqual(kept.map(([, hash]) => hash).sort(), plan.blobs);
    assert.ok(kept.every(([, , , snapshot]) => snapshot === S));
    // The own row as it was, rowid and all.
    assert.deepEqual(kept.filter(([rowid]) => rowid === ownKept[0][0]).map((row) => row.slice(0, 3)), ownKept);
    // The added rows: the column's literal DEFAULT, numbered after the own row, in blob order.
    const added = kept.filter(([rowid]) => rowid !== ownKept[0][0]);
    assert.equal(added.length, plan.blobs.length - 1);
    assert.ok(added.every(([, , verified]) => verified === 0));
    assert.deepEqual(added.map(([rowid]) => rowid), added.map((_, i) => (ownKept[0][0] as number) + 1 + i));
  });

  it('keeps S\'s rows of an agent\'s snapshot-scoped table, and skips a table that is not', async () => {
    const { db, ids } = await openFixture('v1');
    const plan = planOf(db, ids.awkward);
    assert.deepEqual(firsts(keptRows(db, plan, 'snapshot_tags', 'tag')), ['it\'s "odd"', '中文 😀']);
    assert.deepEqual(plan.skippedTables, ['agent_state', 'sqlite_stat1']);
    assert.deepEqual(plan.tables.map((kept) => kept.table.name), all(db, `SELECT name FROM sqlite_schema WHERE type = 'table'
      AND name NOT IN ('agent_state', 'sqlite_stat1') ORDER BY rowid`).map(([name]) => name));
  });

  it('counts the rows it keeps, per table', async () => {
    const { db, ids } = await openFixture('v2');
    const plan = planOf(db, ids.full);
    for (const kept of plan.tables) {
      assert.equal(kept.rows, keptRows(db, plan, kept.table.name, '1').length, kept.table.name);
    }
    assert.equal(keptTable(plan, 'snapshots').rows, 1);
    assert.deepEqual(plan.snapshot.id, ids.full);
  });

  it('refuses a snapshot the database does not have, or one still running', async () => {
    const { db, ids } = await openFixture('v1');
    assert.throws(() => planOf(db, ids.missing), (err: unknown) => err instanceof SnapmetaError && err.code === 'SNAPSHOT_NOT_FOUND'
      && /it has 6 snapshots, latest "fixture\.example\.com_2026-11-23T03:00:00Z"/.test(err.message));
    assert.throws(() => planOf(db, ids.incomplete), (err: unknown) => err instanceof SnapmetaError && err.code === 'SNAPSHOT_INCOMPLETE');
  });
});
