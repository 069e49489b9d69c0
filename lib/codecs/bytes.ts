// Bytes as Node's APIs and native addons want them, without copying.

/** The same bytes as a Buffer: a Buffer as it is, any other view wrapped over the same memory, never copied. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
