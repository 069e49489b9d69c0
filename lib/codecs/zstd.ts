// zstd for whole buffers, plus the frame-level parsing that lets a buffer-only
// codec stream: we write a dump as many independent frames, and read uploads
// frame by frame, every frame's header and block headers checked first, so a
// decompression bomb is refused or stopped before it is inflated.
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { asBuffer } from './bytes.ts';

const require = createRequire(import.meta.url);
// Node's own zstd (>= 22.15) is not in the types of Node 20's zlib.
const nodeZlib = zlib as unknown as Record<string, unknown>;
const zlibConstants = zlib.constants as unknown as Record<string, number>;

interface Codec {
  compress(data: Uint8Array, level: number): Promise<Uint8Array>;
  decompress(data: Uint8Array): Promise<Uint8Array>;
}

// The @mongodb-js/zstd addon (the fastest: docs/design.md, "zstd") when its
// platform binary is present; otherwise Node's built-in zstd (Node >= 22.15,
// e.g. the arm64 Lambda bundle, which carries no x64 addon).
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
    if (typeof nodeZlib.zstdCompress !== 'function') throw addonError;
    const compress = promisify(nodeZlib.zstdCompress as typeof zlib.brotliCompress);
    const decompress = promisify(nodeZlib.zstdDecompress as typeof zlib.brotliDecompress);
    const levelKey = zlibConstants.ZSTD_c_compressionLevel;
    return {
      // nbWorkers stays unset: it corrupted output (docs/design.md, "zstd").
      compress: (data, level) => compress(data, { params: { [levelKey]: level } } as zlib.BrotliOptions),
      decompress: (data) => decompress(data),
    };
  }
}

let codec: Codec | undefined;
const getCodec = () => (codec ??= loadCodec());

/** One zstd frame of `data`, compressed off the main thread. */
export const compressFrame = (data: Uint8Array, level: number) => getCodec().compress(data, level);
/** Every frame of a zstd stream, decompressed off the main thread, with no bound: only for our own frames. */
export const decompressAll = (data: Uint8Array) => getCodec().decompress(data);

const FRAME_MAGIC = 0xfd2fb528;
const isSkippableMagic = (m: number) => (m & 0xfffffff0) >>> 0 === 0x184d2a50;

/** Whether bytes open with a zstd frame's magic number, skippable frames included. */
export function isZstd(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return magic === FRAME_MAGIC || isSkippableMagic(magic);
}

export interface FrameInfo {
  start: number;
  end: number;
  skippable: boolean;
  /** Frame_Content_Size from the header, when the compressor wrote it. */
  contentSize: bigint | undefined;
  /** The memory a decoder must set aside for the frame (its window). */
  windowSize: bigint;
  /** Where the first block header starts. */
  blocksStart: number;
  blocks: number;
  /** The most the blocks can decompress to: raw and RLE blocks say their size, a compressed one holds at most a block's maximum. */
  blockBound: number;
  /** What the raw and RLE blocks alone yield: the least the frame decompresses to. */
  knownContent: number;
}

/** Thrown when bytes are not a well-formed sequence of zstd frames, or not one any compressor writes. */
export class ZstdFormatError extends Error {}

/** The zstd format's largest block content (Block_Maximum_Size before the window caps it). */
const MAX_BLOCK_CONTENT = 128 * 1024;
// Past the first FREE_BLOCKS, each block must be able to yield BYTES_PER_BLOCK
// on average: only tiny raw or RLE blocks, which no compressor writes, fall foul
// of it (docs/design.md, "zstd").
const FREE_BLOCKS = 1024;
const BYTES_PER_BLOCK = 1024;

interface FrameHeader {
  blocksStart: number;
  hasChecksum: boolean;
  contentSize: bigint | undefined;
  windowSize: bigint;
}

/** The header of the (non-skippable) frame at offset; undefined when it is incomplete. */
function readFrameHeader(buf: Uint8Array, view: DataView, offset: number): FrameHeader | undefined {
  const descriptor = buf[offset + 4]; // Frame_Header_Descriptor
  const singleSegment = (descriptor >> 5) & 1;
  const dictIdSize = [0, 1, 2, 4][descriptor & 3];
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6];
  // Window_Descriptor: 2^(10 + exponent) plus mantissa eighths of that.
  const windowDescriptor = buf[offset + 5];
  const windowBase = 1n << BigInt(10 + (windowDescriptor >> 3));
  let windowSize = singleSegment ? 0n : windowBase + (windowBase / 8n) * BigInt(windowDescriptor & 7);
  const pos = offset + 5 + (singleSegment ? 0 : 1) + dictIdSize;
  if (pos + fcsSize > buf.byteLength) return undefined;
  let contentSize: bigint | undefined;
  if (fcsSize === 1) contentSize = BigInt(buf[pos]);
  else if (fcsSize === 2) contentSize = BigInt(view.getUint16(pos, true) + 256);
  else if (fcsSize === 4) contentSize = BigInt(view.getUint32(pos, true));
  else if (fcsSize === 8) contentSize = view.getBigUint64(pos, true);
  if (singleSegment) windowSize = contentSize ?? 0n;
  return { blocksStart: pos + fcsSize, hasChecksum: ((descriptor >> 2) & 1) === 1, contentSize, windowSize };
}

interface BlockRun {
  end: number;
  blocks: number;
  bound: number;
  known: number;
}

const blockHeaderAt = (buf: Uint8Array, pos: number) => buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16);
const blockType = (header: number) => (header >> 1) & 3;
/** A block's header and content on the wire (an RLE block holds one byte). */
const blockLength = (header: number) => 3 + (blockType(header) === 1 ? 1 : header >>> 3);
/** The most a block yields: raw and RLE blocks say, a compressed one holds at most blockMax. */
const blockYield = (header: number, blockMax: number) => (blockType(header) === 2 ? blockMax : header >>> 3);

/** Walk a frame's block headers from pos; undefined when they run past the buffer. */
function walkBlocks(buf: Uint8Array, pos: number, blockMax: number): BlockRun | undefined {
  let blocks = 0;
  let bound = 0;
  let known = 0;
  for (;;) {
    if (pos + 3 > buf.byteLength) return undefined;
    const header = blockHeaderAt(buf, pos);
    const size = header >>> 3;
    if (blockType(header) === 3) throw new ZstdFormatError(`reserved zstd block type at byte ${pos}`);
    if (size > blockMax) throw new ZstdFormatError(`the zstd block at byte ${pos} is ${size} bytes, over its frame's block size of ${blockMax}`);
    blocks++;
    bound += blockYield(header, blockMax);
    known += blockType(header) === 2 ? 0 : size;
    if (blocks > FREE_BLOCKS + bound / BYTES_PER_BLOCK) {
      throw new ZstdFormatError(`the zstd frame has ${blocks} blocks by byte ${pos} that yield at most ${bound} bytes: no compressor writes that; recompress the index with zstd`);
    }
    pos += blockLength(header);
    if (header & 1) return { end: pos, blocks, bound, known };
  }
}

const blockMaxOf = (windowSize: bigint) => Number(windowSize < BigInt(MAX_BLOCK_CONTENT) ? windowSize : MAX_BLOCK_CONTENT);

/**
 * Walk the frames of a zstd stream from `offset`. Returns undefined when the
 * frame starting there is incomplete (more bytes needed). A frame whose window
 * exceeds maxWindow is refused before its blocks are walked.
 */
export function nextFrame(buf: Uint8Array, offset: number, maxWindow = Infinity): FrameInfo | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const avail = buf.byteLength - offset;
  if (avail < 8) {
    if (avail >= 4 && !isZstd(buf.subarray(offset))) throw new ZstdFormatError('not a zstd frame');
    return undefined;
  }
  const magic = view.getUint32(offset, true);
  if (isSkippableMagic(magic)) {
    const end = offset + 8 + view.getUint32(offset + 4, true);
    const info = { start: offset, end, skippable: true, contentSize: undefined, windowSize: 0n, blocksStart: end, blocks: 0, blockBound: 0, knownContent: 0 };
    return end <= buf.byteLength ? info : undefined;
  }
  if (magic !== FRAME_MAGIC) throw new ZstdFormatError(`bad zstd magic at byte ${offset}`);
  const header = readFrameHeader(buf, view, offset);
  if (header && header.windowSize > maxWindow) throw new ZstdWindowTooLarge(header.windowSize, offset);
  const run = header && walkBlocks(buf, header.blocksStart, blockMaxOf(header.windowSize));
  if (!header || !run) return undefined;
  const end = run.end + (header.hasChecksum ? 4 : 0);
  if (end > buf.byteLength) return undefined;
  if (header.contentSize !== undefined && header.contentSize > BigInt(run.bound)) {
    throw new ZstdFormatError(`the zstd frame at byte ${offset} declares ${header.contentSize} bytes, more than its blocks can hold (${run.bound})`);
  }
  const { blocksStart, contentSize, windowSize } = header;
  const { blocks, bound: blockBound, known: knownContent } = run;
  return { start: offset, end, skippable: false, contentSize, windowSize, blocksStart, blocks, blockBound, knownContent };
}

/** Each frame of a complete zstd stream in turn; throws on trailing garbage or truncation. */
export function* eachFrame(buf: Uint8Array, maxWindow = Infinity): Generator<FrameInfo> {
  for (let offset = 0; offset < buf.byteLength; ) {
    const frame = nextFrame(buf, offset, maxWindow);
    if (!frame) throw new ZstdFormatError(`truncated zstd frame at byte ${offset}`);
    yield frame;
    offset = frame.end;
  }
}

/** Every frame of a complete zstd stream; throws on trailing garbage or truncation. */
export const listFrames = (buf: Uint8Array): FrameInfo[] => [...eachFrame(buf)];

/**
 * The largest window we decode: libzstd's default limit, so what `zstd -d`
 * accepts without --memory and what every level up to --ultra -22 and plain
 * --long write. Only --long=28 and up (or --zstd=wlog=) need more.
 */
export const MAX_WINDOW_BYTES = 2 ** 27;

export class DecompressedTooLarge extends Error {
  constructor(readonly limit: number, message = `decompresses to more than the limit of ${limit} bytes`) {
    super(message);
  }
}

/** A frame asks for a window over MAX_WINDOW_BYTES: refused before any decoder allocates it. */
export class ZstdWindowTooLarge extends Error {
  constructor(readonly windowSize: bigint, offset: number) {
    super(
      `has a frame (at byte ${offset}) that needs a ${mib(windowSize)} MiB window, over the ${mib(MAX_WINDOW_BYTES)} MiB that zstd -d itself accepts without --memory; ` +
        'recompress it without --long=N for N over 27 (plain zstd, -19, --ultra -22 and --long are fine)',
    );
  }
}

const mib = (n: bigint | number) => (Number(n) / 2 ** 20).toFixed(Number(n) % 2 ** 20 ? 1 : 0);

// Past the first FREE_FRAMES, each frame must yield BYTES_PER_FRAME on average:
// setting up a frame costs a decoder more than exporting what it holds
// (docs/design.md, "zstd").
const FREE_FRAMES = 1024;
const BYTES_PER_FRAME = 4096;

/**
 * Decompress a whole zstd stream, never producing more than `limit` bytes.
 * One frame at a time, off the main thread: its header and block headers are
 * checked first (window, block pattern, declared or least size against the
 * room the frames before it left), then it is inflated within that room.
 * An aborted signal (the Lambda deadline) stops it between frames.
 * Throws DecompressedTooLarge, ZstdWindowTooLarge or ZstdFormatError.
 */
export async function decompressBounded(buf: Uint8Array, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let frames = 0;
  for (const frame of eachFrame(buf, MAX_WINDOW_BYTES)) {
    signal?.throwIfAborted();
    if (frame.skippable) continue;
    if (++frames > FREE_FRAMES + size / BYTES_PER_FRAME) {
      throw new ZstdFormatError(`${frames} zstd frames yield only ${size} bytes (under ${BYTES_PER_FRAME} a frame): recompress the index with zstd as one stream`);
    }
    const out = await inflateFrame(buf.subarray(frame.start, frame.end), frame, limit - size, limit);
    parts.push(out);
    size += out.byteLength;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
}

async function inflateFrame(bytes: Uint8Array, frame: FrameInfo, room: number, limit: number): Promise<Uint8Array> {
  const declared = frame.contentSize;
  if ((declared ?? BigInt(frame.knownContent)) > BigInt(room)) throw new DecompressedTooLarge(limit);
  // libzstd stops a frame at its declared size, and no frame yields more than its blocks' bound.
  let out: Uint8Array;
  if (declared !== undefined || frame.blockBound <= room) out = await decompressAll(bytes);
  else if (nodeZstdDecompress) out = await decompressAtMost(nodeZstdDecompress, bytes, room, limit);
  else out = await inflateByPrefixes(bytes, frame, room, limit);
  if (declared !== undefined && BigInt(out.byteLength) !== declared) {
    throw new ZstdFormatError(`a zstd frame declares ${declared} bytes and holds ${out.byteLength}`);
  }
  if (out.byteLength > room) throw new DecompressedTooLarge(limit);
  return out;
}

type ZlibDecompress = (data: Uint8Array, options: zlib.ZlibOptions) => Promise<Buffer>;

// Node's own zstd (>= 22.15) stops at maxOutputLength by itself; Node 20 has none.
const nodeZstdDecompress = typeof nodeZlib.zstdDecompress === 'function' ? (promisify(nodeZlib.zstdDecompress) as ZlibDecompress) : undefined;

async function decompressAtMost(decompress: ZlibDecompress, bytes: Uint8Array, room: number, limit: number): Promise<Uint8Array> {
  const windowLogMax = zlibConstants.ZSTD_d_windowLogMax;
  const options = { maxOutputLength: Math.max(room, 1), params: { [windowLogMax]: Math.log2(MAX_WINDOW_BYTES) } };
  try {
    return await decompress(bytes, options as zlib.ZlibOptions);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new DecompressedTooLarge(limit);
    throw err;
  }
}

/** Passes over one undeclared frame when the decoder cannot stop at a limit (the addon). */
const MAX_PREFIX_PASSES = 6;

/**
 * An undeclared frame whose blocks could hold more than `room`, for a decoder
 * with no output limit: inflate ever longer prefixes of its blocks, each
 * bounded by what the one before really produced, so no pass inflates more
 * than room plus one block.
 */
async function inflateByPrefixes(bytes: Uint8Array, frame: FrameInfo, room: number, limit: number): Promise<Uint8Array> {
  const blocks = new BlockCursor(bytes, frame);
  let produced = 0;
  for (let pass = 0; pass < MAX_PREFIX_PASSES; pass++) {
    let budget = produced + blocks.next();
    while (!blocks.done && budget + blocks.peek() <= room) budget += blocks.next();
    const out = await decompressAll(blocks.done ? bytes : blocks.prefix());
    if (out.byteLength > room) throw new DecompressedTooLarge(limit);
    if (blocks.done) return out;
    produced = out.byteLength;
  }
  throw new DecompressedTooLarge(
    limit,
    `has a frame without a declared size that could not be shown to fit in the limit of ${limit} bytes in ${MAX_PREFIX_PASSES} passes; ` +
      'compress it with its size recorded (zstd FILE rather than a pipe, or --stream-size) or in frames of a few MiB',
  );
}

/** A frame's blocks one at a time (the frame was walked whole already, so no checks here). */
class BlockCursor {
  private pos: number;
  private last = -1;
  private readonly blockMax: number;

  constructor(private readonly bytes: Uint8Array, frame: FrameInfo) {
    this.pos = frame.blocksStart - frame.start;
    this.blockMax = blockMaxOf(frame.windowSize);
  }

  get done(): boolean {
    return this.last >= 0 && (this.bytes[this.last] & 1) === 1;
  }

  /** What the next block can yield. */
  peek(): number {
    return blockYield(blockHeaderAt(this.bytes, this.pos), this.blockMax);
  }

  /** Take the next block; what it can yield. */
  next(): number {
    const header = blockHeaderAt(this.bytes, this.pos);
    this.last = this.pos;
    this.pos += blockLength(header);
    return blockYield(header, this.blockMax);
  }

  /** The frame cut after the blocks taken: the last of them marked last, no checksum (it covers the whole frame). */
  prefix(): Buffer {
    const cut = Buffer.from(this.bytes.subarray(0, this.pos));
    cut[4] &= ~4;
    cut[this.last] |= 1;
    return cut;
  }
}
