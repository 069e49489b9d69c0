// zstd for whole buffers, plus the frame-level parsing that lets a buffer-only
// codec stream: we write a dump as many independent frames, and read uploads
// frame by frame so a decompression bomb is stopped before it is inflated.
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { Decompress as StreamingDecompress } from 'fzstd';

const require = createRequire(import.meta.url);

interface Codec {
  compress(data: Uint8Array, level: number): Promise<Uint8Array>;
  decompress(data: Uint8Array): Promise<Uint8Array>;
}

// The @mongodb-js/zstd addon (measured fastest here) when its platform binary is
// present; otherwise Node's built-in zstd (Node >= 22.15, e.g. the arm64 Lambda
// bundle, which carries no x64 addon).
function loadCodec(): Codec {
  try {
    // The package's index.js drops the level argument (1.2.2 always compresses
    // at 3); its NAPI bindings take it.
    const addon = require('@mongodb-js/zstd/bindings.js') as {
      compress(b: Buffer, level: number): Promise<Buffer>;
      decompress(b: Buffer): Promise<Buffer>;
    };
    return {
      compress: (data, level) => addon.compress(asBuffer(data), level),
      decompress: (data) => addon.decompress(asBuffer(data)),
    };
  } catch (addonError) {
    const z = zlib as unknown as Record<string, unknown>;
    if (typeof z.zstdCompress !== 'function') throw addonError;
    const c = promisify(z.zstdCompress as typeof zlib.brotliCompress);
    const d = promisify(z.zstdDecompress as typeof zlib.brotliDecompress);
    const levelKey = (zlib.constants as unknown as Record<string, number>).ZSTD_c_compressionLevel;
    return {
      // nbWorkers stays unset: it produced corrupt output in a test here.
      compress: (data, level) => c(data, { params: { [levelKey]: level } } as zlib.BrotliOptions),
      decompress: (data) => d(data),
    };
  }
}

let codec: Codec | undefined;
const getCodec = () => (codec ??= loadCodec());

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export const compressFrame = (data: Uint8Array, level: number) => getCodec().compress(data, level);
export const decompressAll = (data: Uint8Array) => getCodec().decompress(data);

const FRAME_MAGIC = 0xfd2fb528;
const isSkippableMagic = (m: number) => (m & 0xfffffff0) >>> 0 === 0x184d2a50;

export function isZstd(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const m = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return m === FRAME_MAGIC || isSkippableMagic(m);
}

export interface FrameInfo {
  start: number;
  end: number;
  skippable: boolean;
  /** Frame_Content_Size from the header, when the compressor wrote it. */
  contentSize: bigint | undefined;
  /** The memory a decoder must set aside for the frame (its window). */
  windowSize: bigint;
}

/** Thrown when bytes are not a well-formed sequence of zstd frames. */
export class ZstdFormatError extends Error {}

/**
 * Walk the frames of a zstd stream from `offset`. Returns undefined when the
 * frame starting there is incomplete (more bytes needed).
 */
export function nextFrame(buf: Uint8Array, offset: number): FrameInfo | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const avail = buf.byteLength - offset;
  if (avail < 8) {
    if (avail >= 4 && !isZstd(buf.subarray(offset))) throw new ZstdFormatError('not a zstd frame');
    return undefined;
  }
  const magic = view.getUint32(offset, true);
  if (isSkippableMagic(magic)) {
    const end = offset + 8 + view.getUint32(offset + 4, true);
    return end <= buf.byteLength ? { start: offset, end, skippable: true, contentSize: undefined, windowSize: 0n } : undefined;
  }
  if (magic !== FRAME_MAGIC) throw new ZstdFormatError(`bad zstd magic at byte ${offset}`);
  const fhd = buf[offset + 4];
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const hasChecksum = (fhd >> 2) & 1;
  const dictIdSize = [0, 1, 2, 4][fhd & 3];
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
  // Window_Descriptor: 2^(10 + exponent) plus mantissa eighths of that.
  const wd = buf[offset + 5];
  const windowBase = 1n << BigInt(10 + (wd >> 3));
  let windowSize = singleSegment ? 0n : windowBase + (windowBase / 8n) * BigInt(wd & 7);
  let pos = offset + 5 + (singleSegment ? 0 : 1) + dictIdSize;
  if (pos + fcsSize > buf.byteLength) return undefined;
  let contentSize: bigint | undefined;
  if (fcsSize === 1) contentSize = BigInt(buf[pos]);
  else if (fcsSize === 2) contentSize = BigInt(view.getUint16(pos, true) + 256);
  else if (fcsSize === 4) contentSize = BigInt(view.getUint32(pos, true));
  else if (fcsSize === 8) contentSize = view.getBigUint64(pos, true);
  pos += fcsSize;
  if (singleSegment) windowSize = contentSize ?? 0n;
  for (;;) {
    if (pos + 3 > buf.byteLength) return undefined;
    const header = buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16);
    const last = header & 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (type === 3) throw new ZstdFormatError(`reserved zstd block type at byte ${pos}`);
    pos += 3 + (type === 1 ? 1 : size);
    if (last) break;
  }
  pos += hasChecksum ? 4 : 0;
  return pos <= buf.byteLength ? { start: offset, end: pos, skippable: false, contentSize, windowSize } : undefined;
}

/** Every frame of a complete zstd stream; throws on trailing garbage or truncation. */
export function listFrames(buf: Uint8Array): FrameInfo[] {
  const frames: FrameInfo[] = [];
  for (let offset = 0; offset < buf.byteLength; ) {
    const frame = nextFrame(buf, offset);
    if (!frame) throw new ZstdFormatError(`truncated zstd frame at byte ${offset}`);
    frames.push(frame);
    offset = frame.end;
  }
  return frames;
}

export class DecompressedTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`decompresses to more than ${limit} bytes`);
  }
}

/**
 * Decompress a whole zstd stream, never producing more than `limit` bytes nor
 * letting a frame reserve a window beyond it. Frames that declare their size
 * are checked up front and inflated natively; the others go one at a time
 * through a streaming decoder that counts bytes and stops at the limit.
 */
export async function decompressBounded(buf: Uint8Array, limit: number): Promise<Uint8Array> {
  const frames = listFrames(buf).filter((f) => !f.skippable);
  const max = BigInt(limit);
  if (frames.some((f) => f.windowSize > max)) throw new DecompressedTooLarge(limit);
  if (frames.every((f) => f.contentSize !== undefined)) {
    const total = frames.reduce((sum, f) => sum + (f.contentSize as bigint), 0n);
    if (total > max) throw new DecompressedTooLarge(limit);
    const out = await decompressAll(buf);
    if (BigInt(out.byteLength) !== total) throw new ZstdFormatError('frame sizes do not match their headers');
    return out;
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const frame of frames) {
    const stream = new StreamingDecompress((chunk: Uint8Array) => {
      size += chunk.byteLength;
      if (size > limit) throw new DecompressedTooLarge(limit);
      parts.push(chunk);
    });
    const step = 1 << 20;
    for (let i = frame.start; i < frame.end; i += step) {
      stream.push(buf.subarray(i, Math.min(i + step, frame.end)), i + step >= frame.end);
    }
  }
  return Buffer.concat(parts, size);
}
