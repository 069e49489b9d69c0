// npm run bench [-- --sizes 10M,100M,1G,2.5G] [--runs 2] [--readme] …
// Our export against the native pipeline on the same sample indexes, each run
// in processes of their own, best of --runs; then cold start, the size limit,
// and the sizing guide. See bench/README.md.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleFunction, PROJECT_ROOT } from '../infra/bundle.ts';
import { HARD_MAX_INDEX_BYTES } from '../lib/core/index-bytes.ts';
import type { IndexLayout } from '../lib/sample/schemas.ts';
import { measureColdStart } from './cold-start.ts';
import { ageKey, removeIndexFile, sampleIndexFile } from './inputs.ts';
import { describeMachine } from './machine.ts';
import { measure, waitForQuiet } from './measure.ts';
import { runNative, type NativeRun } from './native.ts';
import { runOurs, type OursRun } from './ours.ts';
import { bytes, coldStartTable, limitText, modelOf, resultsTable, seconds, sizingTable, stagesTable, updateReadme, type BenchResults, type LimitCheck, type SizeResult } from './report.ts';
import { restoredDifferences } from './verify.ts';

const HELP = `usage: npm run bench -- [--sizes 10M,100M,1G] [--runs 2] [--layout v1|v2] [--snapshots 14]
                      [--no-native] [--no-cold-start] [--keep] [--readme] [--report-only] [--max-busy 0.25] [--quiet-wait 300]

  --sizes       sample index sizes (K, M, G: powers of 1000); 2.5G is opt-in
  --runs        runs of each pipeline per size; the best is kept
  --no-native   only our export (e.g. probing the size limit)
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
  const m = /^(\d+(?:\.\d+)?)([KMG])$/i.exec(text.trim());
  if (!m) throw new Error(`--sizes: ${JSON.stringify(text)} is not a size like 100M or 2.5G`);
  return { label: text.trim().toUpperCase(), bytes: Math.round(Number(m[1]) * { K: 1e3, M: 1e6, G: 1e9 }[m[2].toUpperCase() as 'K' | 'M' | 'G']) };
}

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '10M,100M,1G' },
      runs: { type: 'string', default: '2' },
      layout: { type: 'string', default: 'v2' },
      snapshots: { type: 'string', default: '14' },
      'no-native': { type: 'boolean', default: false },
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
  return {
    sizes: values.sizes.split(',').map(parseSize),
    runs: Math.max(1, Number(values.runs)),
    layout: values.layout as IndexLayout,
    snapshots: Number(values.snapshots),
    native: !values['no-native'],
    coldStart: !values['no-cold-start'],
    keep: values.keep,
    readme: values.readme,
    reportOnly: values['report-only'],
    maxBusy: Number(values['max-busy']),
    quietWaitMs: Number(values['quiet-wait']) * 1000,
  };
}

type Options = ReturnType<typeof options>;

function benchSize(o: Options, size: { label: string; bytes: number }, cli: string, key: ReturnType<typeof ageKey>): SizeResult {
  const index = sampleIndexFile(WORK, size.label, { layout: o.layout, targetBytes: size.bytes, snapshots: o.snapshots }, log);
  log(`${size.label}: ${bytes(index.bytes)}, snapshot ${index.snapshotId}`);
  const dir = join(WORK, `run-${size.label}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let ours: OursRun | undefined;
  let native: NativeRun | undefined;
  const oursWallsMs: number[] = [];
  const nativeWallsMs: number[] = [];
  let busy = 0;
  let peakRss = 0;
  try {
    for (let run = 0; run < o.runs; run++) {
      // Alternate who goes first, so neither always gets the warmer page cache.
      for (const which of run % 2 === 0 ? ['native', 'ours'] : ['ours', 'native']) {
        if (which === 'native' && !o.native) continue;
        busy = Math.max(busy, waitForQuiet(o.maxBusy, o.quietWaitMs, log).busy);
        if (which === 'native') {
          rmSync(join(dir, 'native.db'), { force: true });
          const n = runNative(index.path, o.layout, index.snapshotId, key.recipient, dir);
          nativeWallsMs.push(n.wallMs);
          log(`  native ${seconds(n.wallMs)} (copy ${seconds(n.stages.copy)}, prune ${seconds(n.stages.prune)}, dump|zstd|age ${seconds(n.stages['dump|zstd|age'])}), peak ${bytes(n.peakRssBytes)}`);
          if (!native || n.wallMs < native.wallMs) native = n;
        } else {
          const r = runOurs(cli, index.path, index.snapshotId, key.recipient, join(dir, `ours-${run}`));
          oursWallsMs.push(r.wallMs);
          peakRss = Math.max(peakRss, r.peakRssBytes);
          log(`  ours   ${seconds(r.wallMs)} (${Object.entries(r.stages).map(([k, v]) => `${k} ${seconds(v)}`).join(', ')}), peak ${bytes(r.peakRssBytes)}`);
          if (!ours || r.wallMs < ours.wallMs) ours = r;
        }
      }
    }
    ours = { ...ours!, peakRssBytes: peakRss };
    let differences: string[] | undefined;
    if (native) {
      differences = restoredDifferences(ours.exportDir, key.identityFile, native.prunedDb, join(dir, 'restored.db'));
      log(`  restored content: ${differences.length === 0 ? 'identical to the native pruning' : differences.join('\n')}`);
    }
    return {
      label: size.label, layout: o.layout, snapshots: o.snapshots, indexBytes: index.bytes,
      ours, native, oursWallsMs, nativeWallsMs, differences, busy, date: new Date().toISOString(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (!o.keep) removeIndexFile(index);
  }
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
  console.log(`\n${resultsTable(results.sizes)}\n\n${stagesTable(results.sizes)}\n`);
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
  const cli = bundleFunction({ architecture: 'x86_64', outDir: join(WORK, 'cli'), entry: join(PROJECT_ROOT, 'bench', 'cli-entry.ts'), split: true }).bundleFile;

  const sizes = o.sizes.map((size) => benchSize(o, size, cli, key));
  const coldStart = o.coldStart ? measureColdStart(WORK, key.recipient, cli) : undefined;
  const limit = limitCheck(cli, key.recipient);

  // Sizes measured before (other --sizes) stay in the tables until measured again.
  const keyOf = (s: SizeResult) => `${s.layout} ${s.label} ${s.snapshots}`;
  const fresh = new Set(sizes.map(keyOf));
  const results: BenchResults = {
    machine,
    sizes: [...(before?.sizes ?? []).filter((s) => !fresh.has(keyOf(s))), ...sizes],
    coldStart: coldStart ?? before?.coldStart,
    limit,
  };
  writeFileSync(RESULTS, JSON.stringify(results, null, 2));
  report(results, o.readme);
}

await main();
