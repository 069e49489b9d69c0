// Fuzz pass over open → validate → prune → dump (→ compress, encrypt, publish,
// restore): valid fixture indexes damaged at random (seeded), bounded in time
// and count. Every case must end in a SnapmetaError with a code or in an
// export that restores and matches its manifest: no crash, no hang, no other error.
// SNAPMETA_FUZZ_MS / SNAPMETA_FUZZ_CASES / SNAPMETA_FUZZ_SEED widen or replay a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FuzzOutcome } from '../support/hostile/fuzz-case.ts';
import { tempDir } from '../support/export-helpers.ts';
import { CaseWorker } from '../support/case-worker.ts';

const BUDGET_MS = Number(process.env.SNAPMETA_FUZZ_MS ?? 12_000);
const MAX_CASES = Number(process.env.SNAPMETA_FUZZ_CASES ?? 1500);
const FIRST_SEED = Number(process.env.SNAPMETA_FUZZ_SEED ?? 1);
/**
 * Seeds that once failed, replayed first on every run whatever the budget:
 * 1151 repeats one chunk_files cell and hides two (docs/reliability.md, fix 12).
 */
const REGRESSIONS = [1151];
/** A case on a 200 KB fixture takes tens of milliseconds; this long is a hang. */
const CASE_TIMEOUT_MS = 10_000;
test(`fuzz: damaged indexes end in a code or a restorable export (${BUDGET_MS} ms, up to ${MAX_CASES} cases)`, { timeout: BUDGET_MS + 60_000 }, async (t) => {
  const dir = tempDir('snapmeta-fuzz-');
  const worker = new CaseWorker<FuzzOutcome>(new URL('../support/hostile/fuzz-worker.ts', import.meta.url), CASE_TIMEOUT_MS, { dir: dir.path });
  const run = (seed: number) => worker.run(seed, (error, ms) => ({ seed, outcome: 'failed', error, kinds: [], ms }));
  const outcomes: FuzzOutcome[] = [];
  try {
    for (const seed of REGRESSIONS) {
      const o = await run(seed);
      assert.match(o.outcome, /^rejected:/, `regression seed ${seed}: ${o.outcome} ${o.error ?? ''}`);
    }
    const until = performance.now() + BUDGET_MS;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + MAX_CASES && performance.now() < until; seed++) {
      outcomes.push(await run(seed));
    }
  } finally {
    await worker.close();
    dir.remove();
  }

  const tally = new Map<string, number>();
  for (const o of outcomes) tally.set(o.outcome, (tally.get(o.outcome) ?? 0) + 1);
  const pct = (n: number) => `${((100 * n) / outcomes.length).toFixed(1)}%`;
  const slowest = outcomes.reduce((a, b) => (b.ms > a.ms ? b : a));
  t.diagnostic(`${outcomes.length} cases from seed ${FIRST_SEED}: ` +
    [...tally].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n} (${pct(n)})`).join(', ') +
    `; slowest ${slowest.ms} ms (seed ${slowest.seed})`);
  assert.ok(outcomes.length >= 50, `only ${outcomes.length} cases ran`);

  const failed = outcomes.filter((o) => o.outcome === 'failed');
  const show = (list: FuzzOutcome[]) => list.map((o) => `seed ${o.seed}: ${o.error}`);
  assert.deepEqual(show(failed), [], 'no crash, hang, plain error or unrestorable export (replay one: SNAPMETA_FUZZ_SEED=<seed> SNAPMETA_FUZZ_CASES=1)');
});
