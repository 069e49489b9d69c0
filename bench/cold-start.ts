// Cold start of the export function, measured on its real bundle: Node's own
// start-up, importing the handler (configuration, SDK clients) and sql.js's
// WASM initialisation. Also the CLI's own start-up as users run it:
// `snapmeta export --help` through bin/snapmeta.js over the built dist/cli.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFunction, PROJECT_ROOT } from '../infra/bundle.ts';
import { measure } from './measure.ts';

export interface ColdStart {
  runs: number;
  /** Medians, in milliseconds. */
  bareNodeMs: number;
  bootToEntryMs: number;
  importMs: number;
  wasmMs: number;
  readyMs: number;
  peakRssBytes: number;
  cliBundledHelpMs: number;
  bundleBytes: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function measureColdStart(work: string, recipient: string, cli: string, runs = 5): ColdStart {
  const outDir = join(work, 'cold-start');
  const { bundleFile } = bundleFunction({ architecture: 'x86_64', outDir, entry: join(PROJECT_ROOT, 'bench', 'cold-start-entry.ts') });
  // What the deployed function is given; nothing here opens a connection.
  const env = { ...process.env, SNAPMETA_BACKUP_BUCKET: 'bench-backups', SNAPMETA_AGE_RECIPIENTS: recipient, AWS_REGION: 'us-east-1' };
  const samples = Array.from({ length: runs }, () => {
    const run = measure(process.execPath, [bundleFile], { env });
    return { ...(JSON.parse(run.stdout) as { started: number; importMs: number; wasmMs: number; readyMs: number }), rss: run.peakRssBytes };
  });
  const bare = Array.from({ length: runs }, () => measure(process.execPath, ['-e', '0']).wallMs);
  const bundledHelp = Array.from({ length: runs }, () => measure(process.execPath, [cli, 'export', '--help']).wallMs);
  return {
    runs,
    bareNodeMs: median(bare),
    bootToEntryMs: median(samples.map((s) => s.started)),
    importMs: median(samples.map((s) => s.importMs)),
    wasmMs: median(samples.map((s) => s.wasmMs)),
    readyMs: median(samples.map((s) => s.readyMs)),
    peakRssBytes: median(samples.map((s) => s.rss)),
    cliBundledHelpMs: median(bundledHelp),
    bundleBytes: statSync(bundleFile).size,
  };
}
