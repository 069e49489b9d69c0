// Fuzz pass over zstd frame headers: random frame descriptors, windows,
// dictionary ids, content sizes, block headers (type, size, last flag),
// checksums, skippable frames, damaged real frames and truncation, through
// sqliteBytes. Every case must return or end in a SnapmetaError with a code,
// within CASE_TIMEOUT_MS: no crash, no hang, no other error. As in
// test/robustness/fuzz.test.ts, cases run in a worker so a hang can be stopped and named.
// SNAPMETA_ZSTD_FUZZ_MS / SNAPMETA_ZSTD_FUZZ_CASES / SNAPMETA_ZSTD_FUZZ_SEED widen or replay a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaseWorker } from '../support/case-worker.ts';
import type { ZstdFuzzOutcome } from '../support/hostile/zstd-bombs.ts';

const BUDGET_MS = Number(process.env.SNAPMETA_ZSTD_FUZZ_MS ?? 3_000);
const MAX_CASES = Number(process.env.SNAPMETA_ZSTD_FUZZ_CASES ?? 100_000);
const FIRST_SEED = Number(process.env.SNAPMETA_ZSTD_FUZZ_SEED ?? 1);
/** Cases take milliseconds (the largest inflate 64 MiB); this long is a hang. */
const CASE_TIMEOUT_MS = 5_000;
test(`zstd fuzz: random frame headers end in a code or SQLite bytes (${BUDGET_MS} ms, up to ${MAX_CASES} cases)`, { timeout: BUDGET_MS + 60_000 }, async (t) => {
  const worker = new CaseWorker<ZstdFuzzOutcome>(new URL('../support/hostile/zstd-fuzz-worker.ts', import.meta.url), CASE_TIMEOUT_MS);
  const run = (seed: number) => worker.run(seed, (error, ms) => ({ seed, kinds: [], outcome: 'failed', error, ms, bytes: 0 }));
  const outcomes: ZstdFuzzOutcome[] = [];
  try {
    await run(FIRST_SEED); // start-up (fixture, zstd tool) is not the first case's time
    const until = performance.now() + BUDGET_MS;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + MAX_CASES && performance.now() < until; seed++) outcomes.push(await run(seed));
  } finally {
    await worker.close();
  }
  const tally = new Map<string, number>();
  for (const o of outcomes) tally.set(o.outcome, (tally.get(o.outcome) ?? 0) + 1);
  const slowest = outcomes.reduce((a, b) => (b.ms > a.ms ? b : a));
  t.diagnostic(`${outcomes.length} cases from seed ${FIRST_SEED}: ${[...tally].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}; ` +
    `slowest ${slowest.ms} ms (seed ${slowest.seed}: ${slowest.kinds.join(', ')}, ${slowest.bytes} bytes)`);
  assert.ok(outcomes.length >= Math.min(100, MAX_CASES), `only ${outcomes.length} cases ran`);
  const failed = outcomes.filter((o) => o.outcome === 'failed').map((o) => `seed ${o.seed} (${o.kinds.join(', ')}): ${o.error}`);
  assert.deepEqual(failed, [], 'no crash, hang or plain error (replay one: SNAPMETA_ZSTD_FUZZ_SEED=<seed> SNAPMETA_ZSTD_FUZZ_CASES=1)');
});
