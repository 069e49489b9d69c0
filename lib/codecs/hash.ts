// SHA-256 as the pipeline needs it: of whole buffers of any size, of a stream
// as it flows, and of bytes gathered into one buffer while they arrive.
import { createHash } from 'node:crypto';

// One update() refuses 2 GiB or more ("data is too long"): an index may be 4 GiB.
const PIECE = 1 << 30;

/** The raw 32-byte digest. */
export function sha256(bytes: Uint8Array): Buffer {
  const hash = createHash('sha256');
  for (let off = 0; off < bytes.byteLength; off += PIECE) hash.update(bytes.subarray(off, off + PIECE));
  return hash.digest();
}

/** The digest as 64 hex digits. */
export const sha256Hex = (bytes: Uint8Array): string => sha256(bytes).toString('hex');

/** A pass-through stream that counts and hashes what flows through it. */
export function digestTap(): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  result: () => { size: number; sha256: string };
} {
  const hash = createHash('sha256');
  let size = 0;
  let digest: string | undefined;
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hash.update(chunk);
      size += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, result: () => ({ size, sha256: (digest ??= hash.digest('hex')) }) };
}

/** Reads up to the rest of `into` at `offset`; resolves how many bytes it placed (0: the source ended). */
export type ReadAt = (into: Buffer, offset: number) => Promise<number>;

/**
 * `size` bytes into one buffer allocated once (no doubling while it grows),
 * hashed piece by piece while the next piece is being read, instead of in a
 * second pass over the whole upload. Throws when the source ends early
 * (`what` names it) and whatever `readAt` throws.
 */
export async function readHashed(size: number, readAt: ReadAt, what: string): Promise<{ bytes: Buffer; sha256: string }> {
  const bytes = Buffer.allocUnsafe(size);
  const hash = createHash('sha256');
  let offset = 0;
  let pending = size > 0 ? readAt(bytes, 0) : undefined;
  while (pending) {
    const placed = await pending;
    if (placed === 0) throw new Error(`${what} ended after ${offset} of ${size} bytes`);
    const piece = bytes.subarray(offset, offset + placed);
    offset += placed;
    pending = offset < size ? readAt(bytes, offset) : undefined;
    hash.update(piece);
  }
  return { bytes, sha256: hash.digest('hex') };
}
