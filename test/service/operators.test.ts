// An operator's daily commands against the local stack, as a user runs them
// (`snapmeta …` in a process of its own, over HTTP): verify finds missing
// blobs and proves the metadata restores; ls and status show every host and
// the silent ones; dlq list/replay bring back a message that failed five times
// once its cause is fixed; redrive re-exports a rejected upload after a fix.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openExport } from '../../lib/pipeline/open-export.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { fleetStatus, silentHosts } from '../../lib/service/fleet.ts';
import { QUEUE } from '../../lib/service/settings.ts';
import { putBlobs } from '../support/aws/blobs.ts';
import { startHarness, waitFor, type Harness } from '../support/aws/harness.ts';
import { isCommand } from '../support/aws/faults.ts';
import { withSnapshotIds } from '../support/export-helpers.ts';
import { runSnapmeta } from '../support/snapmeta-cli.ts';
import { createFleetWatchHandler } from '../../functions/fleet-watch-handler.ts';
import { StreamLogger } from '../../local/stream-logger.ts';


/** `snapmeta …` as a user runs it; resolves its exit status and output (asynchronous: the server runs here). */
const snapmeta = (...args: string[]) => runSnapmeta(args);

describe('operator commands against the local stack', () => {
  let h: Harness;
  let endpoint: string;
  const opts: SampleIndexOptions = { layout: 'v2', hostname: 'web1.example.com', snapshots: 2, filesPerSnapshot: 60, chunksPerBlob: 8 };
  let bytes: Uint8Array;
  let id: string;

  before(async () => {
    h = await startHarness();
    endpoint = h.stack.endpoint;
    [bytes, id] = [await sampleIndex(opts), sampleSnapshotIds(opts)[1]];
    await h.upload(`incoming/web1/${id}.db`, bytes);
    assert.equal((await h.waitForReceipt(`processed/web1/${id}.json`, 30_000)).status, 'published');
  });
  after(() => h.close());

  it('verify: exit 3 while blobs are missing, 0 once they are there, and the metadata restores', async () => {
    let r = await snapmeta('verify', `s3://${h.stack.names.backupBucket}`, id, '--endpoint', endpoint);
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, /^FAILED: snapshot /m);
    assert.match(r.out, /blobs\s+\d+ checked, \d+ MISSING/);

    const job = await openExport(bytes, { snapshotId: id });
    const sizes = job.blobSizes!;
    job.close();
    await putBlobs(h.stack.s3, h.stack.names.backupBucket, 'blobs/', sizes);
    r = await snapmeta('verify', `s3://${h.stack.names.backupBucket}`, id, '--endpoint', endpoint, '--identity', h.keys.identityFile);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^verified: snapshot /m);
    assert.match(r.out, new RegExp(`blobs\\s+${Object.keys(sizes).length} checked, all present`));
    assert.match(r.out, /metadata\s+restores: integrity ok/);
  });

  it('restore reads straight from the bucket', async () => {
    const to = join(h.dir, 'from-bucket.db');
    const r = await snapmeta('restore', `s3://${h.stack.names.backupBucket}`, id, '--identity', h.keys.identityFile, '--to', to, '--endpoint', endpoint);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /integrity ok, hash and row counts match the manifest/);
  });

  it('ls shows the published snapshot; status shows every host and the silent one', async () => {
    // db1 uploads something that is refused: a host that has never published.
    const foreign = await withSnapshotIds(await sampleIndex({ ...opts, hostname: 'db1.example.com' }), (_, i) => `db1_nightly_2026-11-2${i}T03:00:00Z`);
    await h.upload('incoming/db1/db1_nightly_2026-11-21T03:00:00Z.db', foreign.slice(0, 4096));
    await h.waitForReceipt('rejected/db1/db1_nightly_2026-11-21T03:00:00Z.json', 30_000);

    const ls = await snapmeta('ls', '--endpoint', endpoint);
    assert.equal(ls.code, 0, ls.out);
    assert.match(ls.out, new RegExp(`^web1\\s+${id.replace(/[.]/g, '\\.')}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\s+\\d+s\\s+[\\d.]+ KiB\\s+\\d+$`, 'm'));

    const status = await snapmeta('status', '--endpoint', endpoint);
    assert.equal(status.code, 5, status.out);
    assert.match(status.out, /^db1\s+\(never published\)\s+.*SILENT > 26 h$/m);
    assert.match(status.out, /^web1\s+.*\bok$/m);
    assert.match(status.out, /2 hosts, 1 silent for more than 26 hours/);

    // A day and a half later, web1 is silent too.
    const later = new Date(Date.now() + 36 * 3_600_000);
    const fleet = await fleetStatus(h.stack.s3, h.stack.names.stagingBucket, later);
    assert.deepEqual(silentHosts(fleet, 26).map((host) => host.host).sort(), ['db1', 'web1']);
  });

  it('the scheduled fleet watch publishes one count of silent hosts, and logs their names', async () => {
    const logs: string[] = [];
    const watch = createFleetWatchHandler({
      s3: h.stack.s3, stagingBucket: h.stack.names.stagingBucket, silentHours: 26,
      logger: new StreamLogger((line) => logs.push(line), { serviceName: 'snapmeta-fleet-watch' }),
    });
    const outcome = await watch();
    assert.deepEqual(outcome.silent, ['db1']);
    assert.equal(h.emf.count('SilentHosts', { service: 'snapmeta-fleet-watch' }), 1);
    assert.equal(h.emf.count('HostsSeen', { service: 'snapmeta-fleet-watch' }), outcome.hosts);
    assert.match(logs.join(''), /"silent":\["db1"\]/);
  });

  it(`dlq: a message that failed ${QUEUE.maxReceiveCount} times is listed with its last error, replayed after the fix, and exported`, async () => {
    const [, second] = sampleSnapshotIds({ ...opts, hostname: 'web2.example.com' });
    const web2 = await sampleIndex({ ...opts, hostname: 'web2.example.com' });
    h.faults.fail(isCommand('GetObjectCommand', /^incoming\/web2\//), Infinity);
    await h.upload(`incoming/web2/${second}.db`, web2);
    await waitFor(async () => (await h.stack.status()).dlqDepth === 1, 60_000, 'the DLQ');

    const listed = await snapmeta('dlq', 'list', '--endpoint', endpoint);
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /^1 message in the dead-letter queue/m);
    assert.match(listed.out, /received \d+ times \(this listing included\)/);
    assert.match(listed.out, new RegExp(`upload\\s+s3://${h.stack.names.stagingBucket}/incoming/web2/`));
    assert.match(listed.out, new RegExp(`last error \\(attempt ${QUEUE.maxReceiveCount}, .*\\): ServiceUnavailable: injected fault: GetObjectCommand incoming/web2/`));

    h.faults.clear();
    const replayed = await snapmeta('dlq', 'replay', '--endpoint', endpoint);
    assert.equal(replayed.code, 0, replayed.out);
    assert.match(replayed.out, /^moved 1 of 1 messages back to the export queue/m);
    assert.equal((await h.waitForReceipt(`processed/web2/${second}.json`, 30_000)).status, 'published');
    assert.equal((await h.stack.status()).dlqDepth, 0);
  });

  it('redrive: a rejected upload is exported with one command once the setting that refused it changes', async () => {
    const unnamed = '6f1c1a4e-8d1b-4c55-9f7e-3b9d2f0a7c11';
    const index = await withSnapshotIds(await sampleIndex({ ...opts, hostname: 'solo.example.com' }), (old, i) => (i === 1 ? unnamed : old));
    await h.upload(`incoming/solo/${unnamed}.db`, index);
    assert.equal((await h.waitForReceipt(`rejected/solo/${unnamed}.json`, 30_000)).error?.code, 'UNNAMED_SNAPSHOT_ID');

    h.stack.exportConfig.allowUnnamedIds = true; // the operator redeploys with allowUnnamedIds
    const dry = await snapmeta('redrive', '--code', 'UNNAMED_SNAPSHOT_ID', '--dry-run', '--endpoint', endpoint);
    assert.match(dry.out, /would send 1 of 1 rejected upload/);
    const sent = await snapmeta('redrive', '--code', 'UNNAMED_SNAPSHOT_ID', '--endpoint', endpoint);
    assert.equal(sent.code, 0, sent.out);
    assert.match(sent.out, new RegExp(`^sent\\s+s3://${h.stack.names.stagingBucket}/incoming/solo/${unnamed}\\.db  \\(UNNAMED_SNAPSHOT_ID\\)$`, 'm'));
    assert.equal((await h.waitForReceipt(`processed/solo/${unnamed}.json`, 30_000)).status, 'published');
  });
});
