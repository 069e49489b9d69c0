// The sizing guide, from measured runs: peak memory and time grow linearly
// with the index, so a least-squares line through the measured sizes gives
// the largest index a function of each memory size can hold (at most what the
// function's own memory model accepts), and how long and how much one export
// takes there.
import { HARD_MAX_INDEX_BYTES } from '../lib/core/index-bytes.ts';
import { largestIndexFor } from '../lib/service/memory.ts';

export interface Point {
  indexBytes: number;
  peakRssBytes: number;
  wallMs: number;
  cpuMs: number;
}

export interface Line {
  slope: number;
  intercept: number;
}

export function fitLine(xs: number[], ys: number[]): Line {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}

const at = (line: Line, x: number) => line.slope * x + line.intercept;

export const LAMBDA_MEMORY_MB = [1024, 1769, 2048, 3008, 4096, 6144, 8192, 10240];
/** Lambda gives one vCPU per 1,769 MB, up to 6. */
export const MB_PER_VCPU = 1769;
/** USD per GB-second (us-east-1, first pricing tier). */
export const PRICE = { arm64: 0.0000133334, x86_64: 0.0000166667 };
/** Room left for the runtime, GC timing and inputs that prune to more rows than ours. */
export const MEMORY_MARGIN = 0.1;

export interface Model {
  rss: Line;
  wall: Line;
  cpu: Line;
}

export function fitModel(points: Point[]): Model {
  const xs = points.map((p) => p.indexBytes);
  return {
    rss: fitLine(xs, points.map((p) => p.peakRssBytes)),
    wall: fitLine(xs, points.map((p) => p.wallMs)),
    cpu: fitLine(xs, points.map((p) => p.cpuMs)),
  };
}

export interface GuideRow {
  memoryMb: number;
  vcpus: number;
  /** Largest index (bytes) this memory holds, or 0 when none fits. */
  maxIndexBytes: number;
  /** Export of that largest index. */
  durationMs: number;
  cost: { arm64: number; x86_64: number };
}

/**
 * Duration on a function: this machine's wall time, unless the function has
 * fewer vCPUs than the export keeps busy — then its CPU time spread over them.
 */
export function durationOn(model: Model, indexBytes: number, memoryMb: number): number {
  const vcpus = Math.min(6, memoryMb / MB_PER_VCPU);
  return Math.max(at(model.wall, indexBytes), at(model.cpu, indexBytes) / vcpus);
}

export function costOf(durationMs: number, memoryMb: number): { arm64: number; x86_64: number } {
  const gbSeconds = (durationMs / 1000) * (memoryMb / 1024);
  return { arm64: gbSeconds * PRICE.arm64, x86_64: gbSeconds * PRICE.x86_64 };
}

export function sizingGuide(model: Model): GuideRow[] {
  return LAMBDA_MEMORY_MB.map((memoryMb) => {
    const usable = memoryMb * 2 ** 20 * (1 - MEMORY_MARGIN);
    const byMemory = model.rss.slope > 0 ? (usable - model.rss.intercept) / model.rss.slope : HARD_MAX_INDEX_BYTES;
    // Never more than the deployment accepts (lib/service/memory.ts, also the hard limit).
    const maxIndexBytes = Math.max(0, Math.floor(Math.min(byMemory, largestIndexFor(memoryMb))));
    const durationMs = maxIndexBytes > 0 ? durationOn(model, maxIndexBytes, memoryMb) : 0;
    return { memoryMb, vcpus: Math.min(6, memoryMb / MB_PER_VCPU), maxIndexBytes, durationMs, cost: costOf(durationMs, memoryMb) };
  });
}
