// Random damage to a valid SQLite file, at the places SQLite trusts: header
// fields, b-tree page headers, cell pointers, record headers, whole pages, the
// file's length, and the zstd stream around it. Deterministic per seed.
import { below, randomBytes, type Rand } from './random.ts';

export interface Mutation {
  kind: string;
  /** size: the page size of the valid file (a mutated header may say anything). */
  apply(bytes: Buffer, rand: Rand, size: number): Buffer;
}

const pages = (b: Buffer, size: number) => Math.max(1, Math.floor(b.byteLength / size));

/** A random page and its b-tree header (page 1's follows the 100-byte file header). */
function randomPage(b: Buffer, rand: Rand, size: number): { start: number; header: number; cells: number; pointers: number } {
  const p = below(rand, pages(b, size));
  const start = p * size;
  const header = p === 0 ? 100 : start;
  if (header + 12 > b.byteLength) return { start, header, cells: 0, pointers: header };
  const interior = b[header] === 2 || b[header] === 5;
  return { start, header, cells: b.readUInt16BE(header + 3), pointers: header + (interior ? 12 : 8) };
}

// Header fields SQLite reads: [offset, width].
const HEADER_FIELDS: [number, number][] = [
  [16, 2], [18, 1], [19, 1], [20, 1], [21, 1], [22, 1], [23, 1], [24, 4], [28, 4], [32, 4], [36, 4],
  [40, 4], [44, 4], [48, 4], [52, 4], [56, 4], [60, 4], [64, 4], [92, 4], [96, 4],
];

export const MUTATIONS: Mutation[] = [
  {
    kind: 'bit flips',
    apply(b, rand) {
      for (let n = 1 + below(rand, 8); n > 0; n--) {
        const i = below(rand, b.byteLength);
        b[i] ^= 1 << below(rand, 8);
      }
      return b;
    },
  },
  {
    kind: 'random run',
    apply(b, rand) {
      const len = 1 + below(rand, 64);
      const at = below(rand, Math.max(1, b.byteLength - len));
      randomBytes(rand, len).copy(b, at);
      return b;
    },
  },
  {
    kind: 'header field',
    apply(b, rand) {
      const [off, width] = HEADER_FIELDS[below(rand, HEADER_FIELDS.length)];
      const choices = [0, 1, 2, 3, 0xff, 0xffff, 0x7fffffff, 0xffffffff, below(rand, 2 ** 32)];
      const v = choices[below(rand, choices.length)];
      if (width === 1) b[off] = v & 0xff;
      else if (width === 2) b.writeUInt16BE(v & 0xffff, off);
      else b.writeUInt32BE(v >>> 0, off);
      return b;
    },
  },
  {
    kind: 'b-tree page header',
    apply(b, rand, size) {
      const { header } = randomPage(b, rand, size);
      // type, first freeblock, cell count, content start, fragmented bytes, right child
      const at = header + below(rand, 12);
      if (at < b.byteLength) b[at] = below(rand, 256);
      return b;
    },
  },
  {
    kind: 'cell pointer',
    apply(b, rand, size) {
      const { cells, pointers } = randomPage(b, rand, size);
      const at = pointers + 2 * below(rand, cells);
      if (cells > 0 && at + 2 <= b.byteLength) b.writeUInt16BE(below(rand, size + 64), at);
      return b;
    },
  },
  {
    kind: 'record bytes',
    apply(b, rand, size) {
      // A cell's first bytes: payload and rowid varints, then the record header.
      const { start, cells, pointers } = randomPage(b, rand, size);
      const slot = pointers + 2 * below(rand, cells);
      if (cells === 0 || slot + 2 > b.byteLength) return b;
      const at = start + b.readUInt16BE(slot) + below(rand, 8);
      if (at < b.byteLength) b[at] = below(rand, 256);
      return b;
    },
  },
  {
    kind: 'page overwrite',
    apply(b, rand, size) {
      const p = below(rand, pages(b, size));
      // After a mid-page truncation the last page is short.
      if (rand() < 0.5) b.fill(0, p * size, Math.min(b.byteLength, (p + 1) * size));
      else randomBytes(rand, size).copy(b, p * size);
      return b;
    },
  },
  {
    kind: 'page swap or copy',
    apply(b, rand, size) {
      const a = below(rand, pages(b, size));
      const c = below(rand, pages(b, size));
      const pa = Buffer.from(b.subarray(a * size, (a + 1) * size));
      if (rand() < 0.5) b.copy(b, a * size, c * size, (c + 1) * size);
      else {
        b.copy(b, a * size, c * size, (c + 1) * size);
        pa.copy(b, c * size);
      }
      return b;
    },
  },
  {
    kind: 'truncate',
    apply(b, rand, size) {
      const keep = rand() < 0.7 ? below(rand, pages(b, size)) * size : below(rand, b.byteLength);
      const out = Buffer.from(b.subarray(0, keep));
      // Most often also fix the header's page count, so SQLite itself must notice.
      if (keep >= 100 && rand() < 0.7) out.writeUInt32BE(Math.floor(keep / size), 28);
      return out;
    },
  },
];

/** One to three mutations; returns the damaged copy and what was done. */
export function mutate(valid: Uint8Array, rand: Rand): { bytes: Buffer; kinds: string[] } {
  let bytes: Buffer = Buffer.from(valid);
  const size = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
  const kinds: string[] = [];
  for (let n = 1 + below(rand, 3); n > 0 && bytes.byteLength > 0; n--) {
    const m = MUTATIONS[below(rand, MUTATIONS.length)];
    if (bytes.byteLength < 100 && m.kind !== 'bit flips' && m.kind !== 'random run') continue;
    bytes = m.apply(bytes, rand, size);
    kinds.push(m.kind);
  }
  return { bytes, kinds };
}
