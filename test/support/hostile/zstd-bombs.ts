// Hand-built zstd frames that a hostile upload could hold. Each is a few bytes
// to a megabyte on the wire and asks a decoder for far more than that. Also the
// zstd fuzz pass's random streams (randomZstd) and its case runner.
import { execFileSync } from 'node:child_process';
import { isSnapmetaError } from '../../../lib/core/errors.ts';
import { sqliteBytes } from '../../../lib/core/index-bytes.ts';
import { compressFrame } from '../../../lib/codecs/zstd.ts';
import { buildFixture } from '../fixtures.ts';
import { below, randomBytes, type Rand, prng } from './random.ts';

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

export const RAW = 0;
export const RLE = 1;
export const COMPRESSED = 2;

/** Window_Descriptor for 2^log × (1 + mantissa/8) bytes. */
export const windowDescriptor = (log: number, mantissa = 0) => ((log - 10) << 3) | mantissa;

/**
 * One frame without a declared content size: window 2^windowLog (plus
 * mantissa eighths), then `blocks` blocks of one type: raw blocks of `size`
 * bytes of 'A', RLE blocks repeating 'A' `size` times, or compressed blocks
 * yielding one literal 'A' (a one-byte raw literals section, no sequences).
 */
export function blockBomb(opts: { windowLog: number; mantissa?: number; blocks: number; type: number; size?: number }): Buffer {
  const size = opts.size ?? 1;
  const body = opts.type === COMPRESSED ? [0x08, 0x41, 0x00] : opts.type === RLE ? [0x41] : new Array<number>(size).fill(0x41);
  const wire = opts.type === COMPRESSED ? 3 : size;
  const out = Buffer.alloc(6 + opts.blocks * (3 + body.length));
  out.set([...MAGIC, 0x00, windowDescriptor(opts.windowLog, opts.mantissa)]);
  for (let i = 0, at = 6; i < opts.blocks; i++, at += 3 + body.length) {
    out.set([...blockHeader(i === opts.blocks - 1, opts.type, wire), ...body], at);
  }
  return out;
}

/** `count` back-to-back frames of one compressed block yielding one byte (12 bytes each, 128 KiB window). */
export function manyTinyCompressedFrames(count: number): Buffer {
  const frame = Buffer.from([...MAGIC, 0x00, windowDescriptor(17), ...blockHeader(true, COMPRESSED, 3), 0x08, 0x41, 0x00]);
  const out = Buffer.alloc(frame.byteLength * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.byteLength);
  return out;
}

/** A skippable frame of `size` bytes (magic 0x184D2A5?), which decoders pass over. */
export function skippableFrame(size: number, nibble = 0xe): Buffer {
  const out = Buffer.alloc(8 + size, 0x5a);
  out.writeUInt32LE(0x184d2a50 | nibble, 0);
  out.writeUInt32LE(size, 4);
  return out;
}

/** What a fuzz case drew, and how sqliteBytes answered: 'returned', 'rejected:<CODE>', or 'failed'. */
export interface ZstdFuzzOutcome {
  seed: number;
  kinds: string[];
  outcome: string;
  error?: string;
  ms: number;
  bytes: number;
}

const pick = <T>(rand: Rand, items: readonly T[]): T => items[below(rand, items.length)];

/** A block of a random type (reserved type 3 too) and size, content random or cut from a real frame. */
function randomBlock(rand: Rand, last: boolean, real: Buffer): Buffer {
  const type = rand() < 0.05 ? 3 : below(rand, 3);
  const size = pick(rand, [0, 1, 2, 3, below(rand, 64), below(rand, 4096), below(rand, 1 << 17), (1 << 17) + below(rand, 1 << 20)]);
  const onWire = Math.min(type === RLE ? 1 : size, 4096);
  const from = below(rand, Math.max(1, real.byteLength - onWire));
  const body = onWire <= 64 && rand() < 0.5 ? randomBytes(rand, onWire) : real.subarray(from, from + onWire);
  return Buffer.concat([Buffer.from(blockHeader(last, type, size)), body]);
}

/** A frame header drawn field by field: descriptor flags, window, dictionary id, content size. */
function randomFrameHeader(rand: Rand, kinds: string[]): number[] {
  const descriptor = rand() < 0.3 ? below(rand, 256) : (below(rand, 4) << 6) | ((rand() < 0.3 ? 1 : 0) << 5) | ((rand() < 0.3 ? 1 : 0) << 2);
  const singleSegment = (descriptor >> 5) & 1;
  const window = rand() < 0.3 ? below(rand, 256) : windowDescriptor(10 + below(rand, 22), below(rand, 8));
  const dictId = randomBytes(rand, [0, 1, 2, 4][descriptor & 3]);
  const fcsWidth = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6];
  const fcs = Buffer.alloc(fcsWidth);
  if (fcsWidth) fcs.writeUIntLE(pick(rand, [0, 1, 255, below(rand, 1 << 20), 2 ** 31 - 1]) % 2 ** (8 * Math.min(fcsWidth, 6)), 0, Math.min(fcsWidth, 6));
  if (fcsWidth === 8 && rand() < 0.2) fcs.fill(0xff);
  kinds.push(`header ${descriptor.toString(16)}/${window.toString(16)}`);
  return [...MAGIC, descriptor, ...(singleSegment ? [] : [window]), ...dictId, ...fcs];
}

function randomFrame(rand: Rand, kinds: string[], real: Buffer): Buffer {
  const header = randomFrameHeader(rand, kinds);
  const blocks = 1 + below(rand, pick(rand, [1, 4, 64, 3000]));
  const parts: Buffer[] = [Buffer.from(header)];
  for (let i = 0; i < blocks; i++) parts.push(randomBlock(rand, i === blocks - 1 && rand() < 0.95, real));
  if (header[4] & 4) parts.push(randomBytes(rand, 4));
  return Buffer.concat(parts);
}

/** A real frame with one header field or block header rewritten. */
function damagedRealFrame(rand: Rand, kinds: string[], real: Buffer): Buffer {
  const out = Buffer.from(real);
  const at = rand() < 0.6 ? 4 + below(rand, Math.min(14, out.byteLength - 4)) : below(rand, out.byteLength);
  for (let n = 1 + below(rand, 3); n > 0; n--) out[Math.min(at + n - 1, out.byteLength - 1)] = below(rand, 256);
  kinds.push(`real frame, byte ${at} rewritten`);
  return out;
}

/**
 * A random zstd stream: 1-3 frames, each random, a real one damaged, a real
 * one intact, a skippable one or a tiny bomb; then sometimes truncated.
 */
export function randomZstd(rand: Rand, reals: Buffer[]): { bytes: Buffer; kinds: string[] } {
  const kinds: string[] = [];
  const frames: Buffer[] = [];
  for (let n = 1 + below(rand, 3); n > 0; n--) {
    const real = pick(rand, reals);
    const choice = below(rand, 10);
    if (choice < 5) frames.push(randomFrame(rand, kinds, real));
    else if (choice < 7) frames.push(damagedRealFrame(rand, kinds, real));
    else if (choice < 8) frames.push(real), kinds.push('real frame');
    else if (choice < 9) frames.push(skippableFrame(below(rand, 64), below(rand, 16))), kinds.push('skippable');
    else frames.push(blockBomb({ windowLog: 10 + below(rand, 22), blocks: 1 + below(rand, 5000), type: below(rand, 3), size: below(rand, 64) })), kinds.push('block bomb');
  }
  let bytes = Buffer.concat(frames);
  if (rand() < 0.15) {
    bytes = bytes.subarray(0, below(rand, bytes.byteLength));
    kinds.push('truncated');
  }
  return { bytes, kinds };
}

/** Real frames to start from: a small index compressed by our codec (no size) and by the zstd tool (size, checksum). */
async function realFrames(): Promise<Buffer[]> {
  const { bytes } = await buildFixture('v1');
  const ours = Buffer.from(await compressFrame(bytes, 3));
  const tool = execFileSync('zstd', ['-q', '-c', '-19', '--check'], { input: bytes, maxBuffer: 1 << 26 });
  const sized = execFileSync('zstd', ['-q', '-c', '-3', '--stream-size=' + bytes.byteLength], { input: bytes, maxBuffer: 1 << 26 });
  return [ours, tool, sized];
}

/** The fuzz pass's case runner: a seed in, sqliteBytes's answer out. */
export async function zstdFuzzRunner(): Promise<(seed: number) => Promise<ZstdFuzzOutcome>> {
  const reals = await realFrames();
  return async (seed) => {
    const rand = prng(seed);
    const { bytes, kinds } = randomZstd(rand, reals);
    const limit = pick(rand, [4096, 1 << 20, 64 << 20]);
    const t0 = performance.now();
    const done = (outcome: string, error?: string) => ({ seed, kinds, outcome, error, ms: Math.round(performance.now() - t0), bytes: bytes.byteLength });
    try {
      await sqliteBytes(bytes, limit);
      return done('returned');
    } catch (err) {
      if (isSnapmetaError(err)) return done(`rejected:${err.code}`);
      return done('failed', `${(err as Error).name}: ${(err as Error).message}`.slice(0, 300));
    }
  };
}
