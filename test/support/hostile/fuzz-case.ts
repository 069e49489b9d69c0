// One fuzz case, start to finish: damage a valid fixture index (seeded), then
// open → validate → prune → dump → compress → encrypt → publish → restore.
// The outcome is a SnapmetaError code, an export that restores and checks out
// against its manifest, or a failure (anything else).
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { isSnapmetaError } from '../../../lib/core/errors.ts';
import { openExport } from '../../../lib/pipeline/open-export.ts';
import { decodeManifest } from '../../../lib/core/manifest.ts';
import { publishExport } from '../../../lib/pipeline/publish.ts';
import { sha256Hex } from '../../../lib/codecs/hash.ts';
import { restoreExport } from '../../../lib/pipeline/restore.ts';
import { compressFrame } from '../../../lib/codecs/zstd.ts';
import { buildFixture, type FixtureIds } from '../fixtures.ts';
import { MemoryStore } from '../../../lib/stores/memory-store.ts';
import { mutate } from './mutate.ts';
import { below, prng } from './random.ts';

export interface FuzzOutcome {
  seed: number;
  kinds: string[];
  /** 'exported', 'rejected:<CODE>', or 'failed' (a crash, a non-SnapmetaError, or an export that does not restore). */
  outcome: string;
  error?: string;
  ms: number;
}

const streamOf = (bytes: Uint8Array) => new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(bytes), c.close()) });

const SNAPSHOTS: (keyof FixtureIds)[] = ['full', 'incremental', 'dedupOnly', 'awkward', 'empty'];

/** dir: where restores are written (each removed right after); the caller owns it. */
export async function fuzzRunner(dir: string) {
  const fixtures = { v1: await buildFixture('v1'), v2: await buildFixture('v2') };
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);

  async function run(seed: number): Promise<FuzzOutcome> {
    const t0 = performance.now();
    const rand = prng(seed);
    const fixture = rand() < 0.5 ? fixtures.v1 : fixtures.v2;
    const snapshotId = fixture.ids[SNAPSHOTS[below(rand, SNAPSHOTS.length)]];
    const { bytes, kinds: mutations } = mutate(fixture.bytes, rand);
    let kinds = mutations;
    // One case in five arrives zstd-compressed; half of those are damaged after compression.
    let input: Uint8Array = bytes;
    if (rand() < 0.2) {
      input = Buffer.from(await compressFrame(bytes, 1));
      if (rand() < 0.5) {
        const b = input as Buffer;
        for (let n = 1 + below(rand, 4); n > 0; n--) b[below(rand, b.byteLength)] ^= 1 << below(rand, 8);
        kinds = [...kinds, 'zstd damage'];
      } else kinds = [...kinds, 'zstd'];
    }
    const done = (outcome: string, error?: unknown): FuzzOutcome => ({
      seed, kinds, outcome, ms: Math.round(performance.now() - t0),
      ...(error === undefined ? {} : { error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : String(error) }),
    });
    const source = { sha256: sha256Hex(input), size: input.byteLength };
    let step = 'open';
    try {
      const job = await openExport(input, { snapshotId });
      const store = new MemoryStore();
      let manifestKey: string;
      let dbKey: string;
      try {
        step = 'publish';
        ({ manifestKey, dbKey } = await publishExport(job, store, { recipients: [recipient], source }));
      } finally {
        job.close();
      }
      step = 'restore';
      const manifest = await decodeManifest((await store.get(manifestKey))!);
      await restoreExport({ manifest, db: streamOf((await store.get(dbKey))!), identities: [identity] });
      return done('exported');
    } catch (err) {
      // A restore must never fail, whatever the error; the export side may reject with a code.
      if (step !== 'restore' && isSnapmetaError(err)) return done(`rejected:${err.code}`);
      return done('failed', step === 'restore' ? new Error(`restore: ${(err as Error).message}`) : err);
    }
  }

  return run;
}
