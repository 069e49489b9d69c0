// Through the local stack: a host publishes exactly the snapshot ids that name
// it, in every generation's form, and nothing else; a refused id gets a receipt
// with its code and publishes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ErrorCode } from '../../lib/core/errors.ts';
import { sampleIndex, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import type { Receipt } from '../../lib/service/receipts.ts';
import { startHarness, waitFor, type Harness } from '../support/aws/harness.ts';
import { withSnapshotIds } from '../support/export-helpers.ts';

const T = '2026-11-13T03:00:03Z';
const BACKUP = 'snapmeta-backups';

/** A small index of `hostname` whose snapshots carry `ids`. */
async function indexWith(hostname: string, ids: string[]): Promise<Uint8Array> {
  const opts: SampleIndexOptions = { layout: 'v2', hostname, snapshots: ids.length, filesPerSnapshot: 8, chunksPerFile: 2 };
  return withSnapshotIds(await sampleIndex(opts), (_, index) => ids[index]);
}

async function outcome(h: Harness, host: string, id: string): Promise<Receipt> {
  let receipt: Receipt | undefined;
  await waitFor(async () => Boolean(receipt = (await h.receipt(`processed/${host}/${id}.json`)) ?? (await h.receipt(`rejected/${host}/${id}.json`))), 20_000, `the receipt of ${id}`);
  return receipt!;
}

async function uploadAll(h: Harness, host: string, bytes: Uint8Array, ids: string[]): Promise<Receipt[]> {
  for (const id of ids) await h.upload(`incoming/${host}/${id}.db`, bytes);
  return Promise.all(ids.map((id) => outcome(h, host, id)));
}

describe('snapshot ids and the hosts they name (service)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const own = [`web-01_home_${T}`, `web-01_db.main_weekly_${T.replace('03:00:03', '04:00:00')}`, `web-01.example.org_${T}`, 'web-01_2026-11-14T03:00:00Z', 'web-01-20261115-030000Z'];

  it('publishes every form of id that names the uploading host, names with dots and underscores included', async () => {
    const bytes = await indexWith('web-01.example.org', own);
    const receipts = await uploadAll(h, 'web-01', bytes, own);
    assert.deepEqual(receipts.map((r) => [r.snapshot_id, r.status, r.error?.code]), own.map((id) => [id, 'published', undefined]));
  });

  it("refuses another host's id in every form: HOST_MISMATCH, nothing published", async () => {
    // web-02 writes web-01's ids into its own index, hostname and all its own.
    const claimed = [`web-01_home_${T.replace('T03', 'T05')}`, 'web-01.example.org_2026-11-16T03:00:00Z', 'web-01_2026-11-17T03:00:00Z', 'web-01-20261118-030000Z'];
    const bytes = await indexWith('web-02.example.org', claimed);
    const receipts = await uploadAll(h, 'web-02', bytes, claimed);
    for (const [i, receipt] of receipts.entries()) {
      assert.equal(receipt.status, 'rejected', claimed[i]);
      assert.equal(receipt.error?.code, 'HOST_MISMATCH' satisfies ErrorCode);
      assert.match(receipt.error!.message, /names host "web-01(\.example\.org)?", not "web-02"/);
    }
    await h.settled();
    const published = await h.list(BACKUP);
    for (const id of claimed) assert.ok(!published.some((key) => key.includes(id)), `${id} was not published`);
  });

  it('refuses ids that name no host with UNNAMED_SNAPSHOT_ID, and says how to allow them', async () => {
    const unnamed = ['2026-11-19T03:00:00Z', '6f1c1a4e-8d1b-4c55-9f7e-3b9d2f0a7c11'];
    const receipts = await uploadAll(h, 'web-01', await indexWith('web-01.example.org', unnamed), unnamed);
    for (const receipt of receipts) {
      assert.equal(receipt.error?.code, 'UNNAMED_SNAPSHOT_ID');
      assert.match(receipt.error!.message, /names no host: expected web-01_<name>_<RFC 3339 UTC time>.*SNAPMETA_ALLOW_UNNAMED_IDS=true/);
    }
    await h.settled();
    assert.ok(!(await h.list(BACKUP)).some((key) => unnamed.some((id) => key.includes(id))));
  });
});

describe('a one-host deployment that allows unnamed ids', () => {
  it('publishes a UUID id of its own host, and still refuses an id naming another host', async () => {
    const h = await startHarness({ allowUnnamedIds: true });
    try {
      const ids = ['6f1c1a4e-8d1b-4c55-9f7e-3b9d2f0a7c11', `web-09_home_${T}`];
      const [uuid, other] = await uploadAll(h, 'web-01', await indexWith('web-01.example.org', ids), ids);
      assert.equal(uuid.status, 'published');
      assert.equal(other.error?.code, 'HOST_MISMATCH');
    } finally {
      await h.close();
    }
  });
});
