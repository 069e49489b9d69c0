// npm run bench [-- --sizes 10M,100M,300M,1G,2.5G] [--shapes sample,most-kept] [--runs 2] [--readme] …
// Our export, cold (a fresh process) and warm (the second export of one
// process), against two native pipelines — the seed's (cp + DELETE prune) and
// copy-forward (a fresh database filled by INSERT … SELECT) — on the same
// sample indexes of each shape, each in processes of their own, best of
// --runs; then cold start, the size limit, and the sizing guide. See bench/README.md.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleCli, ensureCliBuilt, PROJECT_ROOT } from '../infra/bundle.ts';
import { HARD_MAX_INDEX_BYTES } from '../lib/core/index-bytes.ts';
import type { LayoutShortName } from '../lib/core/layout.ts';
import { measureColdStart } from './cold-start.ts';
import { bytes, nominalBytes, seconds } from './format.ts';
import { ageKey, indexRows, parseShapes, removeIndexFile, sampleIndexFile, SHAPES, type AgeKey, type BenchIndex, type ShapeName } from './inputs.ts';
import { measureDumpLimits, measureMachineLimits } from './limits.ts';
import { describeMachine } from './machine.ts';
import { measure, waitForQuiet } from './measure.ts';
import { runCopyForward, type CopyForwardRun } from './native-copy-forward.ts';
import { runNative, type NativeRun } from './native.ts';
import { runOurs, runOursWarm, type OursRun, type WarmRun } from './ours.ts';
import { coldStartTable, limitText, modelOf, resultsTables, sizingTable, updateReadme } from './report.ts';
import { shapeOf, type BenchResults, type LimitCheck, type SizeResult } from './results.ts';
import { differences, type Differences } from './verify.ts';

const HELP = `usage: npm run bench -- [--sizes 10M,100M,300M,1G] [--shapes sample,most-kept] [--runs 2] [--layout v1|v2]
                      [--no-native] [--no-seed] [--no-warm] [--no-cold-start] [--keep] [--readme] [--report-only] [--max-busy 0.25] [--quiet-wait 300]

  --sizes       sample index sizes (K, M, G: powers of 1000); 2.5G is opt-in
  --shapes      index shapes, every size runs on each: sample (14 snapshots, the newest keeps ~60 % of
                the files), most-kept (5 snapshots, ~83 %: the worst case for a keep-set prune)
  --runs        runs of each pipeline per size; the best is kept
  --no-native   only our export, cold and warm (e.g. probing the size limit)
  --no-seed     no seed pipeline (cp + DELETE prune, the slow one); the copy-forward pipeline still runs
  --no-warm     no warm export (two exports in one process): only the cold one
  --keep        keep the generated indexes in bench/work/ for the next run
  --readme      write the results into bench/README.md
  --report-only measure nothing: print (and with --readme write) the tables from bench/work/results.json
  --max-busy    wait before each measurement until other processes use less than this share of the cores
  --quiet-wait  … but at most this many seconds`;

const WORK = join(PROJECT_ROOT, 'bench', 'work');
const RESULTS = join(WORK, 'results.json');
const README = join(PROJECT_ROOT, 'bench', 'README.md');
const log = (s: string) => console.error(s);

function parseSize(text: string): { label: string; bytes: number } {
  const bytes = nominalBytes(text);
  if (bytes === undefined) throw new Error(`--sizes: ${JSON.stringify(text)} is not a size like 100M or 2.5G`);
  return { label: text.trim().toUpperCase(), bytes };
}

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '10M,100M,300M,1G' },
      shapes: { type: 'string', default: Object.keys(SHAPES).join(',') },
      runs: { type: 'string', default: '2' },
      layout: { type: 'string', default: 'v2' },
      'no-native': { type: 'boolean', default: false },
      'no-seed': { type: 'boolean', default: false },
      'no-warm': { type: 'boolean', default: false },
      'no-cold-start': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      readme: { type: 'boolean', default: false },
      'report-only': { type: 'boolean', default: false },
      'max-busy': { type: 'string', default: '0.25' },
      'quiet-wait': { type: 'string', default: '300' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  if (values.layout !== 'v1' && values.layout !== 'v2') throw new Error('--layout must be v1 or v2');
  const pipelines = PIPELINES.filter((p) => !(values['no-native'] && NATIVE.includes(p))
    && !(values['no-seed'] && p === 'seed') && !(values['no-warm'] && p === 'warm'));
  return {
    sizes: values.sizes.split(',').map(parseSize),
    shapes: parseShapes(values.shapes),
    runs: Math.max(1, Number(values.runs)),
    layout: values.layout as LayoutShortName,
    pipelines,
    coldStart: !values['no-cold-start'],
    keep: values.keep,
    readme: values.readme,
    reportOnly: values['report-only'],
    maxBusy: Number(values['max-busy']),
    quietWaitMs: Number(values['quiet-wait']) * 1000,
  };
}

type Options = ReturnType<typeof options>;

type Pipeline = 'seed' | 'copy-forward' | 'cold' | 'warm';
const PIPELINES: Pipeline[] = ['seed', 'copy-forward', 'cold', 'warm'];
const NATIVE: Pipeline[] = ['seed', 'copy-forward'];

interface Tools {
  cli: string;
  warmCli: string;
  key: AgeKey;
}

/** The best run (wall time) of one pipeline, every run's wall time, and the largest peak RSS of all. */
interface Tally<T> {
  best?: T;
  wallsMs: number[];
  peakRssBytes: number;
}

function record<T extends { wallMs: number; peakRssBytes: number }>(tally: Tally<T>, run: T): T {
  tally.wallsMs.push(run.wallMs);
  tally.peakRssBytes = Math.max(tally.peakRssBytes, run.peakRssBytes);
  if (!tally.best || run.wallMs < tally.best.wallMs) tally.best = run;
  return run;
}

interface SizeRuns {
  index: BenchIndex;
  dir: string;
  seed: Tally<NativeRun>;
  copyForward: Tally<CopyForwardRun>;
  cold: Tally<OursRun>;
  warm: Tally<WarmRun>;
}

const stagesText = (stages: Record<string, number>) => Object.entries(stages).map(([k, v]) => `${k} ${seconds(v)}`).join(', ');

/** Runs one pipeline once; returns the line to log. */
function runPipeline(which: Pipeline, r: SizeRuns, run: number, layout: LayoutShortName, tools: Tools): string {
  const { index, dir } = r;
  const recipient = tools.key.recipient;
  if (which === 'seed') {
    rmSync(join(dir, 'native.db'), { force: true });
    const n = record(r.seed, runNative(index.path, layout, index.snapshotId, recipient, dir));
    return `seed native   ${seconds(n.wallMs)} (${stagesText(n.stages)}), peak ${bytes(n.peakRssBytes)}`;
  }
  if (which === 'copy-forward') {
    rmSync(join(dir, 'copy-forward.db'), { force: true });
    const c = record(r.copyForward, runCopyForward(index.path, layout, index.snapshotId, recipient, dir));
    return `copy-forward  ${seconds(c.wallMs)} (rows ${seconds(c.parts.rows)}, indexes ${seconds(c.parts.indexes)}, dump|zstd|age ${seconds(c.stages['dump|zstd|age'])}), peak ${bytes(c.peakRssBytes)}`;
  }
  if (which === 'cold') {
    const o = record(r.cold, runOurs(tools.cli, index.path, index.snapshotId, recipient, join(dir, `cold-${run}`)));
    return `ours cold     ${seconds(o.wallMs)} (${stagesText(o.stages)}), CPU ${seconds(o.cpuMs)}, peak ${bytes(o.peakRssBytes)}`;
  }
  const w = record(r.warm, runOursWarm(tools.warmCli, index.path, index.snapshotId, recipient, join(dir, `warm-${run}`)));
  return `ours warm     ${seconds(w.wallMs)} (${stagesText(w.stages)}), CPU ${seconds(w.cpuMs)}; first ${seconds(w.first.wallMs)}; process peak ${bytes(w.peakRssBytes)}`;
}

function benchSize(o: Options, size: { label: string; bytes: number }, shape: ShapeName, tools: Tools): SizeResult {
  const { snapshots } = SHAPES[shape];
  const index = sampleIndexFile(WORK, size.label, { layout: o.layout, targetBytes: size.bytes, snapshots }, log);
  const totalRows = indexRows(index);
  log(`${size.label} ${shape}: ${bytes(index.bytes)}, ${totalRows.toLocaleString('en-US')} rows, snapshot ${index.snapshotId}`);
  const dir = join(WORK, `run-${size.label}-${shape}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const r: SizeRuns = { index, dir, seed: tally(), copyForward: tally(), cold: tally(), warm: tally() };
  let busy = 0;
  try {
    for (let run = 0; run < o.runs; run++) {
      // Alternate the order, so no pipeline always gets the warmer page cache.
      for (const which of run % 2 === 0 ? o.pipelines : [...o.pipelines].reverse()) {
        busy = Math.max(busy, waitForQuiet(o.maxBusy, o.quietWaitMs, log).busy);
        log(`  ${runPipeline(which, r, run, o.layout, tools)}`);
      }
    }
    const found = checkContent(r, tools.key);
    const dump = measureDumpLimits(r.cold.best!.exportDir, tools.key.identityFile, dir);
    return {
      label: size.label, layout: o.layout, snapshots, shape, indexBytes: index.bytes, totalRows,
      ours: { ...r.cold.best!, peakRssBytes: r.cold.peakRssBytes },
      warm: r.warm.best && { ...r.warm.best, peakRssBytes: r.warm.peakRssBytes },
      native: r.seed.best, copyForward: r.copyForward.best,
      oursWallsMs: r.cold.wallsMs, warmWallsMs: r.warm.wallsMs, nativeWallsMs: r.seed.wallsMs, copyForwardWallsMs: r.copyForward.wallsMs,
      differences: found.seed, copyForwardDifferences: found.copyForward, warmDifferences: found.warm,
      dump, busy, date: new Date().toISOString(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (!o.keep) removeIndexFile(index);
  }
}

const tally = <T>(): Tally<T> => ({ wallsMs: [], peakRssBytes: 0 });

/** Our export restored against each native pipeline's database, and the warm export against the cold one. */
function checkContent(r: SizeRuns, key: AgeKey): Differences {
  if (!r.cold.best) throw new Error('the bench always runs our cold export: it is what the others are checked against');
  const found = differences(r.dir, key.identityFile, {
    cold: r.cold.best.exportDir, warm: r.warm.best?.exportDir, seedDb: r.seed.best?.prunedDb, copyForwardDb: r.copyForward.best?.prunedDb,
  });
  const say = (what: string, d?: string[]) => d && log(`  ${what}: ${d.length === 0 ? 'identical' : d.join('\n')}`);
  say('restored content, against the seed pipeline', found.seed);
  say('restored content, against the copy-forward pipeline', found.copyForward);
  say('warm export, against the cold one', found.warm);
  return found;
}

/** An index over the hard limit must be refused up front, not crash the process. */
function limitCheck(cli: string, recipient: string): LimitCheck {
  const path = join(WORK, 'too-large.db');
  const size = HARD_MAX_INDEX_BYTES + 1;
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size); // sparse: nothing is written
  } finally {
    closeSync(fd);
  }
  try {
    const r = measure(process.execPath, [cli, 'export', path, '--snapshot', 'any', '--recipient', recipient, '--out', join(WORK, 'too-large')], { status: 1 });
    return { bytes: size, status: r.status, message: r.stderr.trim(), wallMs: r.wallMs, peakRssBytes: r.peakRssBytes };
  } finally {
    rmSync(path, { force: true });
    rmSync(join(WORK, 'too-large'), { recursive: true, force: true });
  }
}

function previous(): BenchResults | undefined {
  return existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as BenchResults) : undefined;
}

function report(results: BenchResults, readme: boolean): void {
  console.log(`\n${resultsTables(results)}\n`);
  if (results.coldStart) console.log(`${coldStartTable(results.coldStart)}\n`);
  if (results.limit) console.log(`${limitText(results.limit)}\n`);
  const model = modelOf(results.sizes);
  if (model) console.log(`${sizingTable(model)}\n`);
  if (readme) {
    updateReadme(README, results);
    log('bench/README.md updated');
  }
}

async function main() {
  const o = options(process.argv.slice(2));
  const before = previous();
  if (o.reportOnly) {
    if (!before) throw new Error(`no results yet in ${RESULTS}: run the bench first`);
    return report(before, o.readme);
  }
  mkdirSync(WORK, { recursive: true });
  const machine = describeMachine();
  log(`snapmeta bench on ${machine.cpu}, ${machine.cores} cores; ${machine.tools}`);
  const key = ageKey(WORK);
  // Cold: the CLI exactly as users run it (bin/snapmeta.js over the dist/ build npm ci makes), rebuilt if any source is newer.
  ensureCliBuilt();
  // Warm: the CLI's main run twice in one process, bundled as the CLI is.
  const warmCli = bundleCli(join(WORK, 'cli-warm'), join(PROJECT_ROOT, 'bench', 'warm-entry.ts')).bundleFile;
  const tools: Tools = { cli: join(PROJECT_ROOT, 'bin', 'snapmeta.js'), warmCli, key };
  waitForQuiet(o.maxBusy, o.quietWaitMs, log);
  const machineLimits = measureMachineLimits();

  const sizes = o.sizes.flatMap((size) => o.shapes.map((shape) => benchSize(o, size, shape, tools)));
  const coldStart = o.coldStart ? measureColdStart(WORK, key.recipient, tools.cli) : undefined;
  const limit = limitCheck(tools.cli, key.recipient);

  // Sizes measured before (other --sizes or --shapes) stay in the tables until measured again.
  const keyOf = (s: SizeResult) => `${s.layout} ${s.label} ${shapeOf(s)}`;
  const fresh = new Set(sizes.map(keyOf));
  const results: BenchResults = {
    machine,
    machineLimits,
    sizes: [...(before?.sizes ?? []).filter((s) => !fresh.has(keyOf(s))), ...sizes],
    coldStart: coldStart ?? before?.coldStart,
    limit,
  };
  writeFileSync(RESULTS, JSON.stringify(results, null, 2));
  report(results, o.readme);
}

await main();
