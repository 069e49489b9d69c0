import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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
