// What each of our stages could at best reach on this machine, to say how
// close it is: reading the index is a copy out of the page cache while sha256
// runs over it, so memory bandwidth and sha256's speed bound it; compressing
// is zstd -3 over the dump's text, frame by frame, so one core of zstd bounds
// each frame. None of this is timed as part of a pipeline.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { debianRestore } from '../test/support/export-helpers.ts';
import { restoreKeys } from './verify.ts';

export interface MachineLimits {
  /** Buffer.copy of 256 MiB (memcpy: read and write), bytes copied per second. */
  memcpyBytesPerSec: number;
  /** node:crypto sha256 over 256 MiB, bytes per second. */
  sha256BytesPerSec: number;
}

export interface DumpLimits {
  /** The SQL text our export compressed (its db.zst.age, decrypted and inflated). */
  dumpBytes: number;
  /** `zstd -b3` on that text, one thread: bytes compressed per second. */
  zstdOneCoreBytesPerSec: number;
}

const best = (runs: number, once: () => number) => Math.min(...Array.from({ length: runs }, once));

function timedMs(work: () => void): number {
  const t = performance.now();
  work();
  return performance.now() - t;
}

export function measureMachineLimits(): MachineLimits {
  const size = 256 * 2 ** 20;
  // Filled first, so the copy measures memory, not the first touch of fresh pages.
  const from = Buffer.alloc(size, 1);
  const to = Buffer.alloc(size, 2);
  const copyMs = best(5, () => timedMs(() => from.copy(to)));
  const hashMs = best(3, () => timedMs(() => createHash('sha256').update(from).digest()));
  return { memcpyBytesPerSec: size / (copyMs / 1000), sha256BytesPerSec: size / (hashMs / 1000) };
}

/**
 * zstd's own benchmark (-b3: level 3, in memory, no I/O; one thread unless -T
 * is given) on the SQL text of our export.
 */
export function measureDumpLimits(exportDir: string, identityFile: string, dir: string): DumpLimits {
  const dump = join(dir, 'dump.sql');
  try {
    // Decrypted and inflated straight to the file, as the binary image restores.
    debianRestore(exportDir, restoreKeys(identityFile), dump, 'sqlite');
    const report = execFileSync('zstd', ['-b3', '-i2', dump], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { dumpBytes: statSync(dump).size, zstdOneCoreBytesPerSec: parseZstdBench(report) };
  } finally {
    rmSync(dump, { force: true });
  }
}

/**
 * zstd -b redraws its line as it goes: "… 92946944 ->  7008871 (x13.26),  412.3 MB/s, 1510.9 MB/s".
 * The speed right after the ratio is compression's; the fastest of the lines
 * is zstd's best run (its MB is 10^6 bytes).
 */
export function parseZstdBench(report: string): number {
  const speeds = [...report.matchAll(/\(x[\d.]+\),\s*([\d.]+) MB\/s/g)].map((m) => Number(m[1]));
  if (speeds.length === 0) throw new Error(`unexpected zstd -b output: ${report.slice(-300)}`);
  return Math.max(...speeds) * 1e6;
}
