// zstd as streams of independent frames: on the way out, a dump cut into
// frames of a few MiB, each compressed on libuv's thread pool while the next is
// dumped; on the way in, a byte stream cut back into frames, inflated one by one.
// Why frames: docs/design.md, "zstd".
import { compressFrame, decompressAll, nextFrame, ZstdFormatError } from './zstd.ts';

const FRAME_BYTES = 4 << 20;
const IN_FLIGHT = 2;

/** Milliseconds spent per stage; compression runs on other threads, overlapping the dump. */
export interface StageClock {
  dump: number;
  compress: number;
  encrypt: number;
  /** Time spent producing compressed frames on this thread (dump plus waiting for compression). */
  upstream: number;
}

export const newClock = (): StageClock => ({ dump: 0, compress: 0, encrypt: 0, upstream: 0 });

/** Group chunks into frames of about FRAME_BYTES, never splitting a chunk. */
function* frames(chunks: Iterable<Uint8Array>, clock: StageClock): Generator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let size = 0;
  const iterator = chunks[Symbol.iterator]();
  for (;;) {
    const started = performance.now();
    const next = iterator.next();
    clock.dump += performance.now() - started;
    if (next.done) break;
    parts.push(next.value);
    size += next.value.byteLength;
    if (size >= FRAME_BYTES) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

/**
 * A stream of zstd frames of `chunks`, compressing up to IN_FLIGHT frames
 * while the next is produced; an aborted signal stops it with its reason.
 */
export function compressedStream(chunks: Iterable<Uint8Array>, level: number, clock: StageClock, signal?: AbortSignal): ReadableStream<Uint8Array> {
  const source = frames(chunks, clock);
  const inflight: Promise<Uint8Array>[] = [];
  const timed = (frame: Uint8Array) => {
    const started = performance.now();
    const done = compressFrame(frame, level).then((out) => {
      clock.compress += performance.now() - started;
      return out;
    });
    done.catch(() => {}); // awaited in order below; this only silences early rejections
    return done;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        signal?.throwIfAborted();
        const started = performance.now();
        while (inflight.length < IN_FLIGHT) {
          const next = source.next();
          if (next.done) break;
          inflight.push(timed(next.value));
        }
        const ready = inflight.shift();
        if (ready) controller.enqueue(await ready);
        else controller.close();
        clock.upstream += performance.now() - started;
      },
      cancel() {
        source.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** zstd frames out of a byte stream, decompressed one by one. Throws ZstdFormatError on bytes that are not zstd frames, or a stream that ends inside one. */
export async function* decompressedFrames(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  let buffered: Uint8Array = new Uint8Array(0);
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    buffered = buffered.byteLength ? Buffer.concat([buffered, chunk]) : chunk;
    let offset = 0;
    for (let frame = nextFrame(buffered, offset); frame; frame = nextFrame(buffered, offset)) {
      if (!frame.skippable) yield await decompressAll(buffered.subarray(frame.start, frame.end));
      offset = frame.end;
    }
    buffered = buffered.subarray(offset);
  }
  if (buffered.byteLength) throw new ZstdFormatError('the zstd stream ends inside a frame');
}
