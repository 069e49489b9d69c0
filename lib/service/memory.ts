// The memory an export needs, by the bench's model (bench/README.md: peak RSS
// stays under 1.3 × the index + 256 MiB at every size measured, cold and warm),
// so a function can refuse an index it cannot hold before allocating it, and
// the stack can refuse at synth a maxIndexBytes its memory cannot hold.
import { HARD_MAX_INDEX_BYTES } from '../core/index-bytes.ts';

const MiB = 2 ** 20;

export const MEMORY_MODEL = {
  /** Bytes of memory per byte of index: the index itself, its keep-sets and output. */
  perIndexByte: 1.3,
  /** Node, the AWS SDK, SQLite's compiled code and page cache, the export worker. */
  fixedBytes: 256 * MiB,
  /**
   * What is not SQLite's heap nor the index: the function at rest with its
   * worker (122 MiB measured) and the output in flight (zstd frames, age
   * chunks, S3 parts: about 50 MiB).
   */
  runtimeBytes: 192 * MiB,
};

/** Peak memory of exporting an index of this size. */
export const memoryNeeded = (indexBytes: number): number => MEMORY_MODEL.perIndexByte * indexBytes + MEMORY_MODEL.fixedBytes;

/** The largest index a function of this memory holds (0: none), at most the hard limit. */
export function largestIndexFor(memoryMb: number): number {
  const room = (memoryMb * MiB - MEMORY_MODEL.fixedBytes) / MEMORY_MODEL.perIndexByte;
  return Math.max(0, Math.min(HARD_MAX_INDEX_BYTES, Math.floor(room)));
}

/** The smallest function memory (MB) that holds an index of this size. */
export const memoryMbFor = (indexBytes: number): number => Math.ceil(memoryNeeded(indexBytes) / MiB);

/**
 * SQLite's hard heap limit in an export worker: the function's memory less the
 * runtime and the largest index it accepts (held outside SQLite's heap, as its
 * in-memory file). One limit for the worker's life, since SQLite's PRAGMA can
 * only lower it. Running into it is "out of memory": INDEX_TOO_LARGE.
 */
export function sqliteHeapLimit(memoryMb: number, maxIndexBytes: number): number {
  const index = Math.min(maxIndexBytes, largestIndexFor(memoryMb));
  // Never 0, which SQLite reads as no limit at all.
  return Math.max(MiB, Math.floor(memoryMb * MiB - MEMORY_MODEL.runtimeBytes - index));
}
