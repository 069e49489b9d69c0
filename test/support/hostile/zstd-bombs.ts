// Hand-built zstd frames that a hostile upload could hold. Each is a few bytes
// to a megabyte on the wire and asks a decoder for far more than that.
const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** A 3-byte block header: last-block flag, type (1 = RLE), size. */
function blockHeader(last: boolean, type: number, size: number): number[] {
  const h = (last ? 1 : 0) | (type << 1) | (size << 3);
  return [h & 255, (h >> 8) & 255, (h >> 16) & 255];
}

/**
 * One frame of `blocks` RLE blocks of 128 KiB, without a declared content size:
 * 4 bytes per block on the wire, so 1 MiB inflates to 32 GiB.
 */
export function rleBomb(blocks: number): Buffer {
  const out = Buffer.alloc(6 + blocks * 4);
  // No content size, no checksum; window descriptor 2^17 (128 KiB).
  out.set([...MAGIC, 0x00, (17 - 10) << 3]);
  for (let i = 0; i < blocks; i++) out.set([...blockHeader(i === blocks - 1, 1, 128 * 1024), 0x41], 6 + i * 4);
  return out;
}

/**
 * A 10-byte frame (one byte of content) whose header asks for a window of
 * 2^(10 + exponent) × (1 + mantissa/8) bytes; the default asks for 2 GiB.
 */
export function hugeWindowFrame(exponent = 21, mantissa = 0): Buffer {
  return Buffer.from([...MAGIC, 0x00, (exponent << 3) | mantissa, ...blockHeader(true, 1, 1), 0x41]);
}

/** `count` back-to-back one-byte frames without declared sizes (10 bytes each). */
export function manyTinyFrames(count: number): Buffer {
  const frame = Buffer.from([...MAGIC, 0x00, 0x00, ...blockHeader(true, 1, 1), 0x41]);
  return Buffer.concat(Array.from({ length: count }, () => frame));
}

/** A copy of a zstd frame whose header declares `claimed` bytes of content instead of the real size. */
export function withLyingContentSize(frame: Uint8Array, claimed: number): Buffer {
  const out = Buffer.from(frame);
  const fhd = out[4];
  const singleSegment = (fhd >> 5) & 1;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3];
  const width = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6];
  if (width === 4) out.writeUInt32LE(claimed, at);
  else if (width === 8) out.writeBigUInt64LE(BigInt(claimed), at);
  else throw new Error(`frame declares its size in ${width} bytes; give it more content`);
  return out;
}
