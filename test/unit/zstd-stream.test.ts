// zstd as streams of independent frames: what compressedStream writes,
// decompressedFrames reads back, frame by frame, however the bytes arrive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compressedStream, decompressedFrames, newClock } from '../../lib/codecs/zstd-stream.ts';
import { listFrames, ZstdFormatError } from '../../lib/codecs/zstd.ts';
import { skippableFrame } from '../support/hostile/zstd-bombs.ts';

const MiB = 1 << 20;

/** `count` chunks of `size` bytes, each different and compressible. */
const chunks = (count: number, size: number) => Array.from({ length: count }, (_, n) => Buffer.alloc(size, `chunk ${n} of ${count};`));

async function collect(stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const piece of stream as AsyncIterable<Uint8Array>) out.push(Buffer.from(piece));
  return out;
}

/** A byte stream of `bytes` in pieces of `size`. */
const streamOf = (bytes: Uint8Array, size: number) => new ReadableStream<Uint8Array>({
  start(controller) {
    for (let at = 0; at < bytes.byteLength; at += size) controller.enqueue(bytes.subarray(at, at + size));
    controller.close();
  },
});

describe('compressedStream and decompressedFrames', () => {
  it('round-trip: frames of about 4 MiB, never splitting a chunk, read back whole from pieces of any size', async () => {
    const input = chunks(9, MiB + 17);
    const clock = newClock();
    const compressed = Buffer.concat(await collect(compressedStream(input, 3, clock)));
    const frames = listFrames(compressed);
    assert.equal(frames.length, 3);
    assert.ok(frames.every((frame) => !frame.skippable));
    assert.ok(clock.compress > 0 && clock.dump >= 0);

    const parts = await collect(decompressedFrames(streamOf(compressed, 1000)));
    // One part per frame: each is whole chunks, four of them past 4 MiB, the rest last.
    assert.deepEqual(parts.map((part) => part.byteLength), [4 * (MiB + 17), 4 * (MiB + 17), MiB + 17]);
    assert.deepEqual(Buffer.concat(parts), Buffer.concat(input));
  });

  it('writes nothing for no chunks', async () => {
    assert.deepEqual(await collect(compressedStream([], 3, newClock())), []);
  });

  it('skips skippable frames', async () => {
    const compressed = Buffer.concat(await collect(compressedStream(chunks(2, 1000), 3, newClock())));
    const parts = await collect(decompressedFrames(streamOf(Buffer.concat([skippableFrame(3, 0), compressed]), 7)));
    assert.deepEqual(Buffer.concat(parts), Buffer.concat(chunks(2, 1000)));
  });

  it('refuses a stream that ends inside a frame', async () => {
    const compressed = Buffer.concat(await collect(compressedStream(chunks(2, 1000), 3, newClock())));
    await assert.rejects(collect(decompressedFrames(streamOf(compressed.subarray(0, compressed.byteLength - 1), 64))),
      (err: unknown) => err instanceof ZstdFormatError && /ends inside a frame/.test(err.message));
  });

  it('refuses bytes that are not zstd', async () => {
    await assert.rejects(collect(decompressedFrames(streamOf(Buffer.from('SQLite format 3\0 and more'), 64))), ZstdFormatError);
  });

  it('stops with the reason of an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    await assert.rejects(collect(compressedStream(chunks(2, 1000), 3, newClock(), controller.signal)), /deadline/);
  });
});
