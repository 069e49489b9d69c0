// The bench's results as Markdown: the tables bench/README.md holds between
// its markers, and what `npm run bench` prints.
import { readFileSync, writeFileSync } from 'node:fs';
import { HARD_MAX_INDEX_BYTES } from '../lib/core/index-bytes.ts';
import { MEMORY_MODEL } from '../lib/service/memory.ts';
import type { ColdStart } from './cold-start.ts';
import { bytes, percent, rate, seconds, table } from './format.ts';
import type { MachineLimits } from './limits.ts';
import type { Machine } from './machine.ts';
import { bySize, nominalSize, shapeOf, shapeText, type BenchResults, type LimitCheck, type SizeResult } from './results.ts';
import { costOf, durationOn, fitModel, sizingGuide, MEMORY_MARGIN, PRICE, type Model } from './sizing.ts';
import { RATIO_TARGETS, RSS_TARGET_LABEL, ratioVerdict, rssVerdict } from './targets.ts';

const rowsKept = (s: SizeResult) =>
  `${s.ours.rowsKept.toLocaleString('en-US')}${s.totalRows ? ` (${percent(s.ours.rowsKept / s.totalRows)})` : ''}`;
const shortName = (s: SizeResult) => `${bytes(s.indexBytes)}, ${s.layout}, ${shapeOf(s)}${s.note ? ' *' : ''}`;
const wall = (run?: { wallMs: number }) => (run ? seconds(run.wallMs) : '—');
const ratio = (ours?: number, anchor?: number) => (ours !== undefined && anchor !== undefined ? `${(ours / anchor).toFixed(2)}` : '—');
const bold = (text: string) => (text === '—' ? text : `**${text}**`);
const sameAs = (d?: string[]) => (d === undefined ? '—' : d.length === 0 ? 'identical' : `**${d.length} differences**`);

/** Wall time of every pipeline, and ours against each anchor. */
export function wallTable(sizes: SizeResult[]): string {
  const rows = [...sizes].sort(bySize).map((s) => [
    `${bytes(s.indexBytes)} (${s.layout}, ${shapeText(s)})${s.note ? ' *' : ''}`,
    rowsKept(s),
    wall(s.native),
    wall(s.copyForward),
    `${seconds(s.ours.wallMs)} / ${s.ours.exportMs === undefined ? '—' : seconds(s.ours.exportMs)}`,
    wall(s.warm),
    `${bold(ratio(s.ours.wallMs, s.native?.wallMs))} / ${bold(ratio(s.ours.wallMs, s.copyForward?.wallMs))}`,
    `${bold(ratio(s.warm?.wallMs, s.native?.wallMs))} / ${ratio(s.warm?.wallMs, s.copyForward?.wallMs)}`,
    `${bytes(s.ours.outputBytes)} / ${s.native ? bytes(s.native.outputBytes) : '—'} / ${s.copyForward ? bytes(s.copyForward.outputBytes) : '—'}`,
    `${sameAs(s.differences)} / ${sameAs(s.copyForwardDifferences)} / ${sameAs(s.warmDifferences)}`,
  ]);
  return table([
    'index', 'rows kept', 'seed native', 'copy-forward native', 'ours cold: process / export', 'ours warm',
    'cold ÷ seed / ÷ copy-forward', 'warm ÷ seed / ÷ copy-forward', 'output ours / seed / copy-forward',
    'restored content: vs seed / vs copy-forward / warm vs cold',
  ], rows);
}

/** Each target met, or missed by how much. */
export function targetsTable(sizes: SizeResult[]): string {
  const rows = [...sizes].sort(bySize).map((s) => [shortName(s), ...RATIO_TARGETS.map((t) => ratioVerdict(t, s)), rssVerdict(s)]);
  return table(['index', ...RATIO_TARGETS.map((t) => t.label), RSS_TARGET_LABEL], rows);
}

/** CPU time of each pipeline (its tools', or the whole process's), and the peak RSS of each. */
export function cpuTable(sizes: SizeResult[]): string {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const tools = (cpu: Record<string, number> | undefined) =>
    cpu ? `${Object.values(cpu).map(seconds).join(' + ')} = **${seconds(sum(Object.values(cpu)))}**` : '—';
  const rows = [...sizes].sort(bySize).map((s) => [
    shortName(s),
    tools(s.native?.cpuMs),
    tools(s.copyForward?.cpuMs),
    `**${seconds(s.ours.cpuMs)}**`,
    s.warm ? `**${seconds(s.warm.cpuMs)}** (first ${seconds(s.warm.first.cpuMs)})` : '—',
    [s.native, s.copyForward, s.ours, s.warm].map((r) => (r ? bytes(r.peakRssBytes) : '—')).join(' / '),
  ]);
  return table([
    'index', 'seed CPU: prune + dump + zstd + age', 'copy-forward CPU: copy-forward + dump + zstd + age', 'ours cold CPU (process)',
    'ours warm CPU (second export)', 'peak RSS: seed / copy-forward / cold / warm process',
  ], rows);
}

const OUR_STAGES = ['read', 'load', 'prune', 'dump', 'compress', 'encrypt', 'write'];
const ourStages = (run?: { stages: Record<string, number> }) => (run ? OUR_STAGES.map((k) => seconds(run.stages[k] ?? 0)).join(' · ') : '—');

/** Where the time goes: every pipeline's stages (best run of each), all runs, and how busy the machine was. */
export function stagesTable(sizes: SizeResult[]): string {
  const rows = [...sizes].sort(bySize).map((s) => [
    shortName(s),
    s.native ? [s.native.stages.copy, s.native.stages.prune, s.native.stages['dump|zstd|age']].map(seconds).join(' · ') : '—',
    s.copyForward ? [s.copyForward.parts.rows, s.copyForward.parts.indexes, s.copyForward.stages['dump|zstd|age']].map(seconds).join(' · ') : '—',
    ourStages(s.ours),
    ourStages(s.warm),
    [s.nativeWallsMs, s.copyForwardWallsMs, s.oursWallsMs, s.warmWallsMs].map((w) => (w?.length ? w.map(seconds).join(', ') : '—')).join(' / '),
    `${Math.round(s.busy * 100)}%`,
  ]);
  return table([
    'index', 'seed: copy · prune · dump\\|zstd\\|age', 'copy-forward: rows · indexes · dump\\|zstd\\|age',
    `ours cold: ${OUR_STAGES.join(' · ')}`, `ours warm: ${OUR_STAGES.join(' · ')}`,
    'all runs: seed / copy-forward / cold / warm', 'machine busy',
  ], rows);
}

/**
 * How close our read and compress stages come to what bounds them: the read
 * copies the file out of the page cache while sha256 runs over it (both on
 * their own cores), so the slower of memory copy and sha256 bounds it; each
 * compressed frame is zstd -3 on one core.
 */
export function limitsTable(sizes: SizeResult[], machine?: MachineLimits): string {
  const readBound = machine && Math.min(machine.memcpyBytesPerSec, machine.sha256BytesPerSec);
  const reached = (n: number, ms: number | undefined, bound?: number) =>
    ms ? `${rate(n / (ms / 1000))}${bound ? ` (${percent(n / (ms / 1000) / bound)})` : ''}` : '—';
  const rows = [...sizes].sort(bySize).map((s) => [
    shortName(s),
    `${reached(s.indexBytes, s.ours.stages.read, readBound)} / ${reached(s.indexBytes, s.warm?.stages.read, readBound)}`,
    machine ? `${rate(machine.memcpyBytesPerSec)} · ${rate(machine.sha256BytesPerSec)}` : '—',
    s.dump ? bytes(s.dump.dumpBytes) : '—',
    s.dump ? `${reached(s.dump.dumpBytes, s.ours.stages.compress, s.dump.zstdOneCoreBytesPerSec)} / ${reached(s.dump.dumpBytes, s.warm?.stages.compress, s.dump.zstdOneCoreBytesPerSec)}` : '—',
    s.dump ? rate(s.dump.zstdOneCoreBytesPerSec) : '—',
  ]);
  return table([
    'index', 'read: cold / warm (share of its bound)', 'bound: memory copy · sha256', 'dump (SQL text)',
    'compress: cold / warm (share of its bound)', 'bound: zstd -3, one core',
  ], rows);
}

/** Every results table, as bench/README.md holds them. */
export function resultsTables(r: BenchResults): string {
  return [
    wallTable(r.sizes),
    'Targets (issue 17), per size and shape:',
    targetsTable(r.sizes),
    'CPU time and peak RSS (the best run of each; our peaks the largest of all runs):',
    cpuTable(r.sizes),
    'Stages (the best run of each):',
    stagesTable(r.sizes),
    'Each stage against its own limit (bench/limits.ts):',
    limitsTable(r.sizes, r.machineLimits),
  ].join('\n\n');
}

export function coldStartTable(c: ColdStart): string {
  return table(['what (median of ' + c.runs + ' fresh processes)', 'time'], [
    ['`node -e 0` (Node alone)', seconds(c.bareNodeMs)],
    [`process start → bundle evaluated (${bytes(c.bundleBytes)} index.mjs)`, seconds(c.bootToEntryMs)],
    ['import the handler (config, AWS SDK clients, powertools)', seconds(c.importMs)],
    ['sql.js WASM initialisation', seconds(c.wasmMs)],
    ['**ready for the first export**', `**${seconds(c.readyMs)}** (peak RSS ${bytes(c.peakRssBytes)})`],
    ['CLI `snapmeta export --help` (bin/snapmeta.js over the built dist/cli)', seconds(c.cliBundledHelpMs)],
  ]);
}

export function machineText(m: Machine, sizes: SizeResult[]): string {
  const dates = [...new Set(sizes.map((s) => s.date.slice(0, 10)))].join(', ');
  return `${m.cpu}, ${m.cores} cores, ${bytes(m.memoryBytes)} RAM, ${m.os}; Node ${m.node}; ${m.tools}. Measured ${dates}.`;
}

export interface SizingModel {
  model: Model;
  /** The shape fitted: of those measured, the one needing the most memory at 1 GB. */
  shape: string;
  /** Whether the fit had two sizes of 100 MB or more, or had to take the small ones too. */
  from100MB: boolean;
}

/**
 * The sizing model from the measured sizes of 100 MB and more (smaller ones
 * are mostly fixed costs), fitted per shape; the guide takes the shape that
 * needs the most memory at 1 GB. A peak is the larger of the cold process's
 * and the warm one's: a warm function holds what its last export left too.
 */
export function modelOf(sizes: SizeResult[]): SizingModel | undefined {
  const fits = [...new Set(sizes.map(shapeOf))].flatMap((shape) => {
    const all = sizes.filter((s) => shapeOf(s) === shape);
    const big = all.filter((s) => nominalSize(s) >= 100e6);
    const points = (big.length >= 2 ? big : all).map((s) => ({
      indexBytes: s.indexBytes, peakRssBytes: Math.max(s.ours.peakRssBytes, s.warm?.peakRssBytes ?? 0), wallMs: s.ours.wallMs, cpuMs: s.ours.cpuMs,
    }));
    return points.length >= 2 ? [{ model: fitModel(points), shape, from100MB: big.length >= 2 }] : [];
  });
  const at1Gb = (f: SizingModel) => f.model.rss.slope * 1e9 + f.model.rss.intercept;
  return fits.sort((a, b) => at1Gb(b) - at1Gb(a))[0];
}

export function sizingTable({ model, shape, from100MB }: SizingModel): string {
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
    `Fitted on the measured sizes${from100MB ? ' of 100 MB and more' : ' (fewer than two of 100 MB or more: all of them)'} of the ${shape} shape (of the shapes measured, the one needing the most memory at 1 GB), ` +
      `each peak the larger of a cold and a warm process's: peak RSS ≈ ${model.rss.slope.toFixed(2)} × index + ${bytes(model.rss.intercept)}; ` +
      `wall ≈ ${seconds(model.wall.slope * oneGb)} per GB ${plus(model.wall.intercept)}; CPU ≈ ${seconds(model.cpu.slope * oneGb)} per GB ${plus(model.cpu.intercept)}. ` +
      `Largest index = (memory × ${1 - MEMORY_MARGIN} − ${bytes(model.rss.intercept)}) ÷ ${model.rss.slope.toFixed(2)}, ` +
      `at most what the function accepts, (memory − ${bytes(MEMORY_MODEL.fixedBytes)}) ÷ ${MEMORY_MODEL.perIndexByte} (lib/service/memory.ts), and ${HARD_MAX_INDEX_BYTES.toLocaleString('en-US')} bytes; ` +
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
  doc = replaceBlock(doc, 'results', `${resultsTables(r)}${notes}`);
  if (r.coldStart) doc = replaceBlock(doc, 'cold-start', coldStartTable(r.coldStart));
  if (r.limit) doc = replaceBlock(doc, 'limit', limitText(r.limit));
  const model = modelOf(r.sizes);
  if (model) doc = replaceBlock(doc, 'sizing', sizingTable(model));
  writeFileSync(path, doc);
}
