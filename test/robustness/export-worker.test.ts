// Exports in a worker thread (lib/pipeline/worker-export.ts), against the real
// worker: the same bytes as in process, the upload transferred and reused
// workers, the deadline stopping any CPU-bound stage with nothing written,
// SQLite's heap limit, and the compressed upload dropped before the index opens.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ageDecryptStream } from '../../lib/codecs/age.ts';
import { compressFrame } from '../../lib/codecs/zstd.ts';
import { decompressedFrames } from '../../lib/codecs/zstd-stream.ts';
import { sha256Hex } from '../../lib/codecs/hash.ts';
import { handOver, openExport, type ExportJob } from '../../lib/pipeline/open-export.ts';
import { publishExport } from '../../lib/pipeline/publish.ts';
import { ExportStopped, ExportWorkers } from '../../lib/pipeline/worker-export.ts';
import { MemoryStore } from '../../lib/stores/memory-store.ts';
import type { MetadataStore } from '../../lib/stores/store.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { makeKeys, tempDir, type Keys } from '../support/export-helpers.ts';

const MiB = 2 ** 20;
let dir: ReturnType<typeof tempDir>;
let keys: Keys;
const small = { layout: 'v2', hostname: 'web1.example.com', snapshots: 2, filesPerSnapshot: 2000 } satisfies SampleIndexOptions;
const large = { ...small, filesPerSnapshot: 20000 } satisfies SampleIndexOptions;
const indexes = {} as Record<'small' | 'large', { bytes: Uint8Array; id: string }>;

before(async () => {
  dir = tempDir('snapmeta-worker-');
  keys = await makeKeys(dir.path);
  for (const [name, opts] of Object.entries({ small, large })) {
    indexes[name as 'small' | 'large'] = { bytes: await sampleIndex(opts), id: sampleSnapshotIds(opts)[1] };
  }
});
after(() => dir.remove());

const copy = (bytes: Uint8Array) => Buffer.from(bytes);

async function plaintext(job: ExportJob): Promise<Buffer> {
  const { stream } = await job.output({ format: 'sql', level: 3, recipients: [keys.recipient] });
  const parts: Uint8Array[] = [];
  for await (const frame of decompressedFrames(await ageDecryptStream(stream, [keys.identity]))) parts.push(frame);
  return Buffer.concat(parts);
}

describe('exports in a worker thread', () => {
  it('produce the bytes an export in process does; the upload is transferred, and one warm worker serves export after export', async (t) => {
    const workers = new ExportWorkers();
    try {
      const t0 = performance.now();
      await workers.warm();
      const startMs = performance.now() - t0;
      const local = await openExport(indexes.small.bytes, { snapshotId: indexes.small.id });
      const expected = Buffer.concat([...local.dump()]);
      local.close();

      const times: number[] = [];
      for (let run = 0; run < 3; run++) {
        const upload = copy(indexes.small.bytes);
        const t1 = performance.now();
        const job = await workers.open(upload, { snapshotId: indexes.small.id });
        assert.equal(upload.byteLength, 0, 'the upload moved to the worker: this thread holds nothing of it');
        try {
          assert.deepEqual([job.layout, job.snapshot.id, job.bytesIn], ['v2-id-keyed', indexes.small.id, indexes.small.bytes.byteLength]);
          assert.ok(job.timings.prune > 0);
          assert.ok((await plaintext(job)).equals(expected), 'the same dump, byte for byte');
        } finally {
          job.close();
        }
        times.push(performance.now() - t1);
      }
      assert.equal(workers.started, 1, 'one worker for all three');
      const inProcess: number[] = [];
      for (let run = 0; run < 3; run++) {
        const t1 = performance.now();
        const job = await openExport(copy(indexes.small.bytes), { snapshotId: indexes.small.id });
        await plaintext(job);
        job.close();
        inProcess.push(performance.now() - t1);
      }
      const ms = (list: number[]) => list.map(Math.round).join(', ');
      t.diagnostic(`worker start (SQLite compiled) ${Math.round(startMs)} ms; a ${(indexes.small.bytes.byteLength / MiB).toFixed(1)} MiB export, open to decrypted output: warm worker ${ms(times)} ms, in process ${ms(inProcess)} ms`);
    } finally {
      await workers.close();
    }
  });

  it('the deadline stops a busy worker in its stage, and a fresh one takes its place', async () => {
    const workers = new ExportWorkers();
    try {
      await workers.warm();
      const stop = new AbortController();
      const opening = workers.open(copy(indexes.large.bytes), { snapshotId: indexes.large.id, signal: stop.signal });
      // Stopped as soon as the worker says it is pruning: mid-WASM, no yield.
      setTimeout(() => stop.abort(new Error('time is up')), 400);
      await assert.rejects(opening, (err: unknown) => {
        assert.ok(err instanceof ExportStopped, String(err));
        assert.match(err.stage, /^(decompress|load|prune)$/);
        assert.match(err.message, /stopped in its \w+ stage after \d+ ms: time is up/);
        return true;
      });
      const job = await workers.open(copy(indexes.small.bytes), { snapshotId: indexes.small.id });
      job.close();
      assert.equal(workers.started, 2, 'the stopped worker was replaced');
    } finally {
      await workers.close();
    }
  });

  it('a deadline while the output is produced fails the stream: nothing is written, never a short object', async () => {
    const workers = new ExportWorkers();
    const store = new MemoryStore();
    const stop = new AbortController();
    // Time is up once the store has 2 MiB of the output: the worker, the slower side, is mid-dump.
    const stopping: MetadataStore = {
      head: (key) => store.head(key),
      get: (key) => store.get(key),
      getStream: (key) => store.getStream(key),
      putIfAbsent: (key, body, options) => {
        const [seen, rest] = (body as ReadableStream<Uint8Array>).tee();
        void (async () => {
          let bytes = 0;
          for await (const chunk of seen as unknown as AsyncIterable<Uint8Array>) {
            if ((bytes += chunk.byteLength) < 2 * MiB) continue;
            // From a task of its own, as the deadline's timer fires.
            setTimeout(() => stop.abort(new Error('time is up')), 0);
            break;
          }
        })();
        return store.putIfAbsent(key, rest, options);
      },
    };
    try {
      const job = await workers.open(copy(indexes.large.bytes), { snapshotId: indexes.large.id, signal: stop.signal });
      try {
        const source = { sha256: sha256Hex(indexes.large.bytes), size: indexes.large.bytes.byteLength };
        await assert.rejects(publishExport(job, stopping, { recipients: [keys.recipient], source, signal: stop.signal }), /time is up/);
        assert.equal(job.stopped()?.stage, 'dump', 'the worker was dumping: a CPU-bound stage, for the timeout policy');
      } finally {
        job.close();
      }
      assert.deepEqual(store.keys(), [], 'no database, no manifest');
    } finally {
      await workers.close();
    }
  });

  it("SQLite's heap limit turns exhaustion into INDEX_TOO_LARGE, and the worker goes on", async () => {
    const workers = new ExportWorkers({ heapLimitBytes: 4 * MiB });
    try {
      await assert.rejects(workers.open(copy(indexes.small.bytes), { snapshotId: indexes.small.id }), {
        code: 'INDEX_TOO_LARGE',
        message: /needs more memory than this export has: out of memory/,
      });
      const tiny = { ...small, filesPerSnapshot: 5 };
      const job = await workers.open(await sampleIndex(tiny), { snapshotId: sampleSnapshotIds(tiny)[1] });
      job.close();
      assert.equal(workers.started, 1, 'a refusal is an answer, not a crash');
    } finally {
      await workers.close();
    }
  });
});

/** Only the handover holds the bytes once this returns. */
async function handedOver(compressed: Buffer) {
  return { input: handOver(compressed), watched: new WeakRef(compressed.buffer) };
}

describe('a handed-over upload', () => {
  it('is dropped once inflated: a .db.zst and its index are never both held while the index opens', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const zst = await compressFrame(indexes.small.bytes, 1);
    const heldAtLoad = async (handed: boolean) => {
      const { input, watched } = await handedOver(Buffer.from(zst));
      // A WeakRef keeps its target until the end of the task that made it.
      await new Promise((resolve) => setImmediate(resolve));
      let held: boolean | undefined;
      const job = await openExport(handed ? input : input(), {
        snapshotId: indexes.small.id,
        onStage: (stage) => {
          if (stage !== 'load') return;
          gc();
          held = watched.deref() !== undefined;
        },
      });
      job.close();
      return held;
    };
    assert.equal(await heldAtLoad(true), false, 'handed over: collected before SQLite opens the index');
    assert.equal(await heldAtLoad(false), true, 'given as an array (the CLI), the caller still holds it');
  });
});
