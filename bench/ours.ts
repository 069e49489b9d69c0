// Our export, `snapmeta export`, in a process of its own: wall time, CPU time
// and peak RSS from outside, the stage timings from the CLI's own report.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { measure } from './measure.ts';

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

export function runOurs(cli: string, index: string, snapshotId: string, recipient: string, out: string): OursRun {
  const run = measure(process.execPath, [cli, 'export', index, '--snapshot', snapshotId, '--recipient', recipient, '--out', out]);
  const exportDir = join(out, 'metadata', snapshotId);
  const outputBytes = statSync(join(exportDir, 'db.zst.age')).size;
  const { totalMs, stages } = parseTime(run.stdout);
  return { wallMs: run.wallMs, exportMs: totalMs, cpuMs: run.cpuMs, peakRssBytes: run.peakRssBytes, stages, rowsKept: parseRowsKept(run.stdout), outputBytes, exportDir };
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
