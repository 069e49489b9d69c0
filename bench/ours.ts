// Our export, `snapmeta export`, cold (a process of its own: wall time, CPU
// time and peak RSS from outside) and warm (the second export of a process
// that runs two); the stage timings from the CLI's own report.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { measure } from './measure.ts';
import { WARM_MARK } from './warm-mark.ts';

export interface OursRun {
  wallMs: number;
  /** The export's own time as the CLI reports it: from reading the file to the last byte written (no Node start-up). */
  exportMs: number;
  cpuMs: number;
  peakRssBytes: number;
  /** As the CLI reports them: read (file + sha256), load, prune, dump, compress (on other threads), encrypt, write. */
  stages: Record<string, number>;
  /** Rows in the export, all tables. */
  rowsKept: number;
  /** db.zst.age, comparable with the native pipeline's output. */
  outputBytes: number;
  /** metadata/<id>/ with db.zst.age and manifest.json.zst. */
  exportDir: string;
}

/** Cold: a fresh `snapmeta export` process, as shipped. */
export function runOurs(cli: string, index: string, snapshotId: string, recipient: string, out: string): OursRun {
  const run = measure(process.execPath, [cli, 'export', index, '--snapshot', snapshotId, '--recipient', recipient, '--out', out]);
  const exportDir = join(out, 'metadata', snapshotId);
  const outputBytes = statSync(join(exportDir, 'db.zst.age')).size;
  const { totalMs, stages } = parseTime(run.stdout);
  return { wallMs: run.wallMs, exportMs: totalMs, cpuMs: run.cpuMs, peakRssBytes: run.peakRssBytes, stages, rowsKept: parseRowsKept(run.stdout), outputBytes, exportDir };
}

export interface WarmRun {
  /** The second export's own wall time, from calling the CLI's main() to its return. */
  wallMs: number;
  /** The second export's time as its CLI reports it (from reading the file). */
  exportMs: number;
  /** CPU time of the whole process (every thread) during the second export. */
  cpuMs: number;
  /** The process's peak over both exports: a warm function holds what the first left, too. */
  peakRssBytes: number;
  /** The second export's stages, as the CLI reports them. */
  stages: Record<string, number>;
  /** The first export in the same process (a cold export without Node's start-up). */
  first: { wallMs: number; cpuMs: number };
  /** The whole process, from outside: start-up and both exports. */
  process: { wallMs: number; cpuMs: number };
  outputBytes: number;
  /** The second export's metadata/<id>/. */
  exportDir: string;
}

/** Warm: a second export of the same index in the same process (bench/warm-entry.ts), as a warm Lambda runs it. */
export function runOursWarm(warmCli: string, index: string, snapshotId: string, recipient: string, out: string): WarmRun {
  const run = measure(process.execPath, [warmCli, out, index, '--snapshot', snapshotId, '--recipient', recipient]);
  const split = run.stdout.indexOf(WARM_MARK);
  const summary = /^warm (\{.*\})$/m.exec(run.stdout);
  if (split < 0 || !summary) throw new Error(`no warm report in the output of ${warmCli}:\n${run.stdout}`);
  const { first, second } = JSON.parse(summary[1]) as Record<'first' | 'second', { wallMs: number; cpuMs: number }>;
  const { totalMs, stages } = parseTime(run.stdout.slice(split));
  const exportDir = join(out, 'second', 'metadata', snapshotId);
  return {
    wallMs: second.wallMs, exportMs: totalMs, cpuMs: second.cpuMs, peakRssBytes: run.peakRssBytes, stages, first,
    process: { wallMs: run.wallMs, cpuMs: run.cpuMs }, outputBytes: statSync(join(exportDir, 'db.zst.age')).size, exportDir,
  };
}

/** "time  2.17 s (read 231 ms, load 27 ms, …)" → 2170 and { read: 231, load: 27, … } */
export function parseTime(report: string): { totalMs: number; stages: Record<string, number> } {
  const line = /^\s*time\s+([\d.]+ m?s) \((.*)\)\s*$/m.exec(report);
  if (!line) throw new Error(`no "time" line in the export's report:\n${report}`);
  const stages = Object.fromEntries(line[2].split(', ').map((part) => {
    const m = /^(\w+) (.+)$/.exec(part);
    if (!m) throw new Error(`unreadable stage "${part}" in the export's report`);
    return [m[1], ms(m[2])];
  }));
  return { totalMs: ms(line[1]), stages };
}

function ms(text: string): number {
  const m = /^([\d.]+) (ms|s)$/.exec(text);
  if (!m) throw new Error(`unreadable duration "${text}" in the export's report`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

/** "rows kept  files 9431, chunks 35984, …" → their sum. */
export function parseRowsKept(report: string): number {
  const line = /^\s*rows kept\s+(.*)$/m.exec(report);
  if (!line) throw new Error(`no "rows kept" line in the export's report:\n${report}`);
  return [...line[1].matchAll(/ (\d+)(?:,|$)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}
