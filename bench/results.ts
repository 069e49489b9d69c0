// What one `npm run bench` keeps in bench/work/results.json. Entries written
// before the copy-forward pipeline, the warm export and the shapes existed
// lack those fields: every reader must take them as not measured.
import type { ColdStart } from './cold-start.ts';
import { nominalBytes } from './format.ts';
import { SHAPES } from './inputs.ts';
import type { DumpLimits, MachineLimits } from './limits.ts';
import type { Machine } from './machine.ts';
import type { CopyForwardRun } from './native-copy-forward.ts';
import type { NativeRun } from './native.ts';
import type { OursRun, WarmRun } from './ours.ts';

export interface SizeResult {
  label: string;
  layout: string;
  snapshots: number;
  /** bench/inputs.ts SHAPES; absent in older entries (see shapeOf). */
  shape?: string;
  indexBytes: number;
  /** Rows of the index's tables, to show the share kept. */
  totalRows?: number;
  /** Ours, cold: best of the runs (wall time); peakRssBytes is the largest of the runs. */
  ours: OursRun;
  /** Ours, warm: the second export of a process, best of the runs; peakRssBytes is the process's, largest of the runs. */
  warm?: WarmRun;
  /** The seed's native pipeline: cp, DELETE prune, dump | zstd | age. */
  native?: NativeRun;
  /** The copy-forward native pipeline: a fresh database by INSERT … SELECT, dump | zstd | age. */
  copyForward?: CopyForwardRun;
  oursWallsMs: number[];
  warmWallsMs?: number[];
  nativeWallsMs: number[];
  copyForwardWallsMs?: number[];
  /** Differences of our restored export from the seed pipeline's pruning; empty when identical. */
  differences?: string[];
  /** … from the copy-forward pipeline's database. */
  copyForwardDifferences?: string[];
  /** Differences of the warm export from the cold one. */
  warmDifferences?: string[];
  /** The dump's size and zstd's one-core speed on it (bench/limits.ts). */
  dump?: DumpLimits;
  /** The busiest the rest of the machine was just before a measurement (share of all cores). */
  busy: number;
  date: string;
  /** How this row's run differed from a plain `npm run bench` (shown as *). */
  note?: string;
}

export interface LimitCheck {
  bytes: number;
  status: number;
  message: string;
  wallMs: number;
  peakRssBytes: number;
}

export interface BenchResults {
  machine: Machine;
  machineLimits?: MachineLimits;
  sizes: SizeResult[];
  coldStart?: ColdStart;
  limit?: LimitCheck;
}

/** The shape's name; entries from before --shapes ran the sample's 14 snapshots, or said how many. */
export const shapeOf = (s: SizeResult) => s.shape ?? (s.snapshots === 14 ? 'sample' : `${s.snapshots} snapshots`);

/** "sample: 14 snapshots", or for an older entry of another count just "7 snapshots". */
export const shapeText = (s: SizeResult) => (shapeOf(s).endsWith(' snapshots') ? shapeOf(s) : `${shapeOf(s)}: ${s.snapshots} snapshots`);

/** The size asked for (--sizes), e.g. 1e9 for "1G"; the index's own size when the label is not one. */
export const nominalSize = (s: SizeResult) => nominalBytes(s.label) ?? s.indexBytes;

/** Shapes in SHAPES' order, others after them. */
const shapeRank = (s: SizeResult) => {
  const i = Object.keys(SHAPES).indexOf(shapeOf(s));
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
};

/** By size asked for, then shape, so a size's shapes sit together. */
export const bySize = (a: SizeResult, b: SizeResult) =>
  nominalSize(a) - nominalSize(b) || shapeRank(a) - shapeRank(b) || shapeOf(a).localeCompare(shapeOf(b))
  || a.layout.localeCompare(b.layout) || a.indexBytes - b.indexBytes;
