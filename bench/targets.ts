// Issue 17's targets, judged per size and shape: each is met, or missed by how
// much. A target applies from the size it names (the size asked for, e.g.
// 100M, not the index's exact bytes); below it the ratio is shown alone.
import { bytes, seconds } from './format.ts';
import { MEMORY_MODEL, memoryNeeded } from '../lib/service/memory.ts';
import { nominalSize, type SizeResult } from './results.ts';

export interface RatioTarget {
  /** Column heading. */
  label: string;
  limit: number;
  appliesAt(nominalBytes: number): boolean;
  ours(s: SizeResult): number | undefined;
  anchor(s: SizeResult): number | undefined;
}

export const RATIO_TARGETS: RatioTarget[] = [
  {
    label: 'warm ≤ 0.5× seed, from 100 MB',
    limit: 0.5,
    appliesAt: (n) => n >= 100e6,
    ours: (s) => s.warm?.wallMs,
    anchor: (s) => s.native?.wallMs,
  },
  {
    label: 'cold ≤ 0.5× seed, from 300 MB',
    limit: 0.5,
    appliesAt: (n) => n >= 300e6,
    ours: (s) => s.ours.wallMs,
    anchor: (s) => s.native?.wallMs,
  },
  {
    // A user runs the export as a fresh process, and so the native pipelines: cold against them.
    label: 'cold ≤ 1.0× copy-forward, at 1 GB',
    limit: 1.0,
    appliesAt: (n) => n === 1e9,
    ours: (s) => s.ours.wallMs,
    anchor: (s) => s.copyForward?.wallMs,
  },
];

export function ratioVerdict(target: RatioTarget, s: SizeResult): string {
  const ours = target.ours(s);
  const anchor = target.anchor(s);
  if (ours === undefined || anchor === undefined) return '—';
  const ratio = `${(ours / anchor).toFixed(2)}×`;
  if (!target.appliesAt(nominalSize(s))) return `${ratio} (no target)`;
  if (ours <= target.limit * anchor) return `met: ${ratio}`;
  return `**misses by ${(ours / anchor - target.limit).toFixed(2)}×**: ${ratio}, ${seconds(ours - target.limit * anchor)} too slow`;
}

/** The memory target's column heading, from the function's memory model (lib/service/memory.ts). */
export const RSS_TARGET_LABEL = `peak RSS, cold / warm process ≤ ${MEMORY_MODEL.perIndexByte} × index + ${MEMORY_MODEL.fixedBytes / 2 ** 20} MiB`;

/**
 * Peak RSS within the memory the function's model gives the index (memoryNeeded),
 * for the cold process and the warm one (whose peak spans both its exports).
 */
export function rssVerdict(s: SizeResult): string {
  const target = memoryNeeded(s.indexBytes);
  const worst = Math.max(s.ours.peakRssBytes, s.warm?.peakRssBytes ?? 0);
  const peaks = `${bytes(s.ours.peakRssBytes)} / ${s.warm ? bytes(s.warm.peakRssBytes) : '—'} ≤ ${bytes(target)}`;
  return worst <= target ? `met: ${peaks}` : `**misses by ${bytes(worst - target)}**: ${peaks}`;
}
