// node --import tsx bench/hostile-schema.ts
// Figures for docs/reliability.md's hostile schema rows: each case of
// test/support/hostile/schema-cases.ts, and the 20 MB-a-row CHECK on a
// 3,000-file index, against a clean export of the same index. In process:
// open → prune → dump (or the refusal), best of 3. In a process of its own
// (`snapmeta export`, GNU time): wall time and peak RSS.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnapmetaError } from '../lib/core/errors.ts';
import { openExport } from '../lib/pipeline/open-export.ts';
import { sampleIndexSql, sampleSnapshotIds } from '../lib/sample/sample-index.ts';
import { makeKeys } from '../test/support/export-helpers.ts';
import { buildFixture } from '../test/support/fixtures.ts';
import { hostileIndex } from '../test/support/hostile/indexes.ts';
import { rewrite, SCHEMA_CASES } from '../test/support/hostile/schema-cases.ts';
import { sqlite } from '../test/support/sqlite-cli.ts';
import { measure } from './measure.ts';

const dir = mkdtempSync(join(tmpdir(), 'snapmeta-hostile-schema-bench-'));
const bin = new URL('../bin/snapmeta.js', import.meta.url).pathname;

/** Open, prune and dump in this process: its outcome and the best time of 3. */
async function inProcess(bytes: Uint8Array, snapshotId: string): Promise<{ outcome: string; ms: number }> {
  let best = Infinity;
  let outcome = '';
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    try {
      const job = await openExport(bytes, { snapshotId });
      try {
        for (const chunk of job.dump()) void chunk;
      } finally {
        job.close();
      }
      outcome = 'exported';
    } catch (err) {
      outcome = isSnapmetaError(err) ? err.code : `plain: ${(err as Error).message}`;
    }
    best = Math.min(best, performance.now() - t0);
  }
  return { outcome, ms: best };
}

/** `snapmeta export` in a process of its own: wall time and peak RSS. */
function cli(path: string, snapshotId: string, recipient: string, status: number): { wallMs: number; peakMiB: number } {
  const out = mkdtempSync(join(dir, 'out-'));
  const r = measure(process.execPath, [bin, 'export', path, '--snapshot', snapshotId, '--recipient', recipient, '--out', out], { status });
  return { wallMs: r.wallMs, peakMiB: r.peakRssBytes / 2 ** 20 };
}

const keys = await makeKeys(dir);
const rows: string[] = [];
const row = async (title: string, path: string, snapshotId: string, clean: { ms: number }) => {
  const ours = await inProcess(readFileSync(path), snapshotId);
  const proc = cli(path, snapshotId, keys.recipient, ours.outcome === 'exported' ? 0 : 1);
  rows.push(`| ${title} | ${ours.outcome} | ${ours.ms.toFixed(0)} ms (clean ${clean.ms.toFixed(0)} ms, ${(ours.ms / clean.ms).toFixed(2)}×) | ${(proc.wallMs / 1000).toFixed(2)} s | ${proc.peakMiB.toFixed(0)} MiB |`);
  console.error(rows.at(-1));
};

try {
  const fixtures = { v1: await buildFixture('v1'), v2: await buildFixture('v2') };
  for (const c of Object.values(SCHEMA_CASES)) {
    const { bytes, ids } = fixtures[c.layout];
    await row(c.title, hostileIndex(dir, bytes, c.sql).path, ids[c.snapshot], await inProcess(bytes, ids[c.snapshot]));
  }
  const opts = { layout: 'v2' as const, snapshots: 2, filesPerSnapshot: 3000 };
  const clean = join(dir, 'sample-3000.db');
  sqlite(clean, sampleIndexSql(opts));
  const id = sampleSnapshotIds(opts)[1];
  const key = 'PRIMARY KEY (snapshot_id, blob_id)';
  const heavy = hostileIndex(dir, readFileSync(clean), rewrite('snapshot_blobs', key, `${key}, CHECK (length(hex(zeroblob(20000000 + length(blob_id)))) > 0)`));
  const base = await inProcess(readFileSync(clean), id);
  await row('3,000-file v2 index, clean', clean, id, base);
  await row('the same with `CHECK (length(hex(zeroblob(20000000 + length(blob_id)))) > 0)` on `snapshot_blobs`', heavy.path, id, base);
  console.log(['| Case | Outcome | Open → dump, in process, best of 3 | `snapmeta export`, wall | Peak RSS |', '| --- | --- | --- | --- | --- |', ...rows].join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
