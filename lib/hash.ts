import { createHash } from 'node:crypto';

// One update() refuses 2 GiB or more ("data is too long"): an index may be 4 GiB.
const PIECE = 1 << 30;

export function sha256Hex(bytes: Uint8Array): string {
  const hash = createHash('sha256');
  for (let off = 0; off < bytes.byteLength; off += PIECE) hash.update(bytes.subarray(off, off + PIECE));
  return hash.digest('hex');
}

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
