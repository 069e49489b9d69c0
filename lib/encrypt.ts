// zstd then age, as streams: the dump is cut into frames of a few MiB, each
// compressed on libuv's thread pool while the next is dumped, and the frames
// flow through age's streaming encryption.
import { Decrypter } from 'age-encryption';
import { ageEncryptStream } from './age-payload.ts';
import { compressFrame } from './zstd.ts';

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
  const it = chunks[Symbol.iterator]();
  for (;;) {
    const t = performance.now();
    const next = it.next();
    clock.dump += performance.now() - t;
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

/** A stream of zstd frames, compressing up to IN_FLIGHT frames while the next is produced. */
export function compressedStream(chunks: Iterable<Uint8Array>, level: number, clock: StageClock, signal?: AbortSignal): ReadableStream<Uint8Array> {
  const source = frames(chunks, clock);
  const inflight: Promise<Uint8Array>[] = [];
  const timed = (frame: Uint8Array) => {
    const t = performance.now();
    const done = compressFrame(frame, level).then((out) => {
      clock.compress += performance.now() - t;
      return out;
    });
    done.catch(() => {}); // awaited in order below; this only silences early rejections
    return done;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        signal?.throwIfAborted();
        const t = performance.now();
        while (inflight.length < IN_FLIGHT) {
          const next = source.next();
          if (next.done) break;
          inflight.push(timed(next.value));
        }
        const ready = inflight.shift();
        if (ready) controller.enqueue(await ready);
        else controller.close();
        clock.upstream += performance.now() - t;
      },
      cancel() {
        source.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** age-encrypt a stream; the time spent sealing is added to clock.encrypt. */
export function encryptStream(plain: ReadableStream<Uint8Array>, recipients: string[], clock: StageClock): Promise<ReadableStream<Uint8Array>> {
  return ageEncryptStream(plain, recipients, (ms) => {
    clock.encrypt += ms;
  });
}

export async function decryptStream(cipher: ReadableStream<Uint8Array>, identities: string[]): Promise<ReadableStream<Uint8Array>> {
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  return d.decrypt(cipher);
}
