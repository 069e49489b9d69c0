// The bench's results as Markdown: the tables bench/README.md holds between
// its markers, and what `npm run bench` prints.
import { readFileSync, writeFileSync } from 'node:fs';
import { HARD_MAX_INDEX_BYTES } from '../lib/core/index-bytes.ts';
import type { ColdStart } from './cold-start.ts';
import type { Machine } from './machine.ts';
import type { NativeRun } from './native.ts';
import type { OursRun } from './ours.ts';
import { costOf, durationOn, fitModel, sizingGuide, MEMORY_MARGIN, PRICE, type Model } from './sizing.ts';

export interface SizeResult {
  label: string;
  layout: string;
  snapshots: number;
  indexBytes: number;
  /** Best of the runs (wall time); peakRssBytes is the largest of the runs. */
  ours: OursRun;
  native?: NativeRun;
  oursWallsMs: number[];
  nativeWallsMs: number[];
  /** Differences of the restored export from the native pruning; empty when identical. */
  differences?: string[];
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
  sizes: SizeResult[];
  coldStart?: ColdStart;
  limit?: LimitCheck;
}

const MiB = 2 ** 20;
export const rssTarget = (indexBytes: number) => 1.3 * indexBytes + 256 * MiB;

export function bytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(n >= 100 * MiB ? 0 : 1)} MiB`;
  return `${(n / 1024).toFixed(0)} KiB`;
}

export function seconds(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const bySize = (a: SizeResult, b: SizeResult) => a.indexBytes - b.indexBytes;

export function resultsTable(sizes: SizeResult[]): string {
  const rows = [...sizes].sort(bySize).map((s) => {
    const ratio = (ms: number | undefined) => (s.native && ms !== undefined ? (ms / s.native.wallMs).toFixed(2) : '—');
    const target = rssTarget(s.indexBytes);
    return [
      `${bytes(s.indexBytes)} (${s.layout}, ${s.snapshots} snapshots)${s.note ? ' *' : ''}`,
      s.ours.rowsKept.toLocaleString('en-US'),
      s.native ? seconds(s.native.wallMs) : '—',
      `${seconds(s.ours.wallMs)} / ${s.ours.exportMs === undefined ? '—' : seconds(s.ours.exportMs)}`,
      `**${ratio(s.ours.wallMs)}** / ${ratio(s.ours.exportMs)}`,
      `${bytes(s.ours.peakRssBytes)} ${s.ours.peakRssBytes <= target ? '≤' : '**>**'} ${bytes(target)}`,
      s.native ? bytes(s.native.peakRssBytes) : '—',
      `${bytes(s.ours.outputBytes)} / ${s.native ? bytes(s.native.outputBytes) : '—'}`,
      s.differences === undefined ? '—' : s.differences.length === 0 ? 'identical' : `**${s.differences.length} differences**`,
    ];
  });
  return table([
    'index', 'rows kept', 'native', 'ours: process / export', 'ours ÷ native: process / export',
    'our peak RSS ≤ 1.3 × index + 256 MiB', 'native peak RSS', 'output ours / native', 'restored content',
  ], rows);
}

export function stagesTable(sizes: SizeResult[]): string {
  const st = (s: SizeResult, k: string) => seconds(s.ours.stages[k] ?? 0);
  const rows = [...sizes].sort(bySize).map((s) => [
    bytes(s.indexBytes),
    s.native ? `${seconds(s.native.stages.copy)} · ${seconds(s.native.stages.prune)} · ${seconds(s.native.stages['dump|zstd|age'])}` : '—',
    s.native ? `${seconds(s.native.cpuMs.dump)} · ${seconds(s.native.cpuMs.zstd)} · ${seconds(s.native.cpuMs.age)}` : '—',
    `${st(s, 'read')} · ${st(s, 'load')} · ${st(s, 'prune')} · ${st(s, 'dump')} · ${st(s, 'compress')} · ${st(s, 'encrypt')} · ${st(s, 'write')}`,
    `${seconds(s.ours.cpuMs)}`,
    `${s.oursWallsMs.map(seconds).join(', ')} / ${s.nativeWallsMs.map(seconds).join(', ') || '—'}`,
    `${Math.round(s.busy * 100)}%`,
  ]);
  return table([
    'index', 'native: copy · prune · dump\\|zstd\\|age', 'native CPU: dump · zstd · age', 'ours: read · load · prune · dump · compress · encrypt · write', 'our CPU', 'all runs: ours / native', 'machine busy',
  ], rows);
}

export function coldStartTable(c: ColdStart): string {
  return table(['what (median of ' + c.runs + ' fresh processes)', 'time'], [
    ['`node -e 0` (Node alone)', seconds(c.bareNodeMs)],
    [`process start → bundle evaluated (${bytes(c.bundleBytes)} index.mjs)`, seconds(c.bootToEntryMs)],
    ['import the handler (config, AWS SDK clients, powertools)', seconds(c.importMs)],
    ['sql.js WASM initialisation', seconds(c.wasmMs)],
    ['**ready for the first export**', `**${seconds(c.readyMs)}** (peak RSS ${bytes(c.peakRssBytes)})`],
    ['CLI `snapmeta export --help`, bundled / through tsx', `${seconds(c.cliBundledHelpMs)} / ${seconds(c.cliTsxHelpMs)}`],
  ]);
}

export function machineText(m: Machine, sizes: SizeResult[]): string {
  const dates = [...new Set(sizes.map((s) => s.date.slice(0, 10)))].join(', ');
  return `${m.cpu}, ${m.cores} cores, ${bytes(m.memoryBytes)} RAM, ${m.os}; Node ${m.node}; ${m.tools}. Measured ${dates}.`;
}

/** The sizing model from the measured sizes of 100 MB and more (smaller ones are mostly fixed costs). */
export function modelOf(sizes: SizeResult[]): Model | undefined {
  const big = sizes.filter((s) => s.indexBytes >= 90e6);
  const points = (big.length >= 2 ? big : sizes).map((s) => ({ indexBytes: s.indexBytes, peakRssBytes: s.ours.peakRssBytes, wallMs: s.ours.wallMs, cpuMs: s.ours.cpuMs }));
  return points.length >= 2 ? fitModel(points) : undefined;
}

export function sizingTable(model: Model): string {
  const oneGb = 1e9;
  const rows = sizingGuide(model).map((g) => {
    const ref = g.maxIndexBytes >= oneGb ? durationOn(model, oneGb, g.memoryMb) : undefined;
    return [
      `${g.memoryMb.toLocaleString('en-US')} MB`,
      g.vcpus.toFixed(2),
      g.maxIndexBytes > 0 ? `${bytes(g.maxIndexBytes)}${g.maxIndexBytes === HARD_MAX_INDEX_BYTES ? ' (hard limit)' : ''}` : 'none',
      g.maxIndexBytes > 0 ? `${seconds(g.durationMs)}: $${g.cost.arm64.toFixed(5)} / $${g.cost.x86_64.toFixed(5)}` : '—',
      ref === undefined ? '—' : `${seconds(ref)}: $${costOf(ref, g.memoryMb).arm64.toFixed(5)} / $${costOf(ref, g.memoryMb).x86_64.toFixed(5)}`,
    ];
  });
  return [
    table(['function memory', 'vCPUs', 'largest index', 'its export: duration, cost arm64 / x86_64', 'a 1 GB index: duration, cost arm64 / x86_64'], rows),
    '',
    `Fitted on the measured sizes of 100 MB and more: peak RSS ≈ ${model.rss.slope.toFixed(2)} × index + ${bytes(model.rss.intercept)}; ` +
      `wall ≈ ${seconds(model.wall.slope * oneGb)} per GB ${plus(model.wall.intercept)}; CPU ≈ ${seconds(model.cpu.slope * oneGb)} per GB ${plus(model.cpu.intercept)}. ` +
      `Largest index = (memory × ${1 - MEMORY_MARGIN} − ${bytes(model.rss.intercept)}) ÷ ${model.rss.slope.toFixed(2)}, at most ${HARD_MAX_INDEX_BYTES.toLocaleString('en-US')} bytes; ` +
      `prices $${PRICE.arm64} (arm64) and $${PRICE.x86_64} (x86_64) per GB-second.`,
  ].join('\n');
}

const plus = (ms: number) => `${ms < 0 ? '−' : '+'} ${seconds(Math.abs(ms))}`;

export function limitText(l: LimitCheck): string {
  return `A ${bytes(l.bytes)} (${l.bytes.toLocaleString('en-US')}-byte) index: exit ${l.status} in ${seconds(l.wallMs)}, ` +
    `peak RSS ${bytes(l.peakRssBytes)}: \`${l.message}\``;
}

/** Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->`. */
export function replaceBlock(doc: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`bench/README.md has no ${begin} … ${end} block`);
  return `${doc.slice(0, i + begin.length)}\n${body}\n${doc.slice(j)}`;
}

export function updateReadme(path: string, r: BenchResults): void {
  let doc = readFileSync(path, 'utf8');
  doc = replaceBlock(doc, 'machine', machineText(r.machine, r.sizes));
  const notes = [...new Set(r.sizes.flatMap((s) => (s.note ? [s.note] : [])))].map((n) => `\n\n\\* ${n}`).join('');
  doc = replaceBlock(doc, 'results', `${resultsTable(r.sizes)}${notes}\n\nStages (the best run of each):\n\n${stagesTable(r.sizes)}`);
  if (r.coldStart) doc = replaceBlock(doc, 'cold-start', coldStartTable(r.coldStart));
  if (r.limit) doc = replaceBlock(doc, 'limit', limitText(r.limit));
  const model = modelOf(r.sizes);
  if (model) doc = replaceBlock(doc, 'sizing', sizingTable(model));
  writeFileSync(path, doc);
}
