// Running a measured command in its own process: wall time from here, CPU
// time and peak RSS from GNU time (`/usr/bin/time`), which sees the process
// tree's largest resident set — the figure a Lambda's memory limit applies to.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measured {
  wallMs: number;
  /** User + system CPU time of the command and its children. */
  cpuMs: number;
  peakRssBytes: number;
  status: number;
  stdout: string;
  stderr: string;
}

/** GNU time's report, written to a file so the command's own stderr stays its own. */
const TIME_FORMAT = '%U %S %M';

export function parseTimeReport(text: string): { cpuMs: number; peakRssBytes: number } {
  // GNU time prefixes "Command exited with non-zero status N" when it fails.
  const last = text.trim().split('\n').at(-1) ?? '';
  const [user, sys, rssKiB] = last.split(' ').map(Number);
  if (![user, sys, rssKiB].every(Number.isFinite)) throw new Error(`unexpected /usr/bin/time output: ${text}`);
  return { cpuMs: (user + sys) * 1000, peakRssBytes: rssKiB * 1024 };
}

/** Runs cmd under /usr/bin/time; throws with its stderr when it exits with another status than `status`. */
export function measure(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; status?: number } = {}): Measured {
  const report = join(tmpdir(), `snapmeta-bench-time-${process.pid}-${Date.now()}`);
  try {
    const t = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', TIME_FORMAT, '-o', report, cmd, ...args], {
      input: opts.input,
      env: opts.env ?? process.env,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const wallMs = performance.now() - t;
    if (r.error) throw r.error;
    if (r.status !== (opts.status ?? 0)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().slice(-2000)}`);
    return { wallMs, ...parseTimeReport(readFileSync(report, 'utf8')), status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(report, { force: true });
  }
}

/** Share of all cores busy over `ms` milliseconds, from /proc/stat. */
export function busyShare(ms = 1000): number {
  const sample = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0); // idle + iowait
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const b = sample();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}

export interface Quiet {
  /** Share of the machine other processes used just before the measurement. */
  busy: number;
  load1: number;
  waitedMs: number;
}

/**
 * Other work on the machine (2 cores, shared with other sessions) skews every
 * figure: wait until it is quiet — two 1 s samples below maxBusy — or give up
 * after maxWaitMs and say how busy it was.
 */
export function waitForQuiet(maxBusy: number, maxWaitMs: number, log: (s: string) => void): Quiet {
  const t = performance.now();
  let busy = busyShare();
  let told = false;
  while (performance.now() - t < maxWaitMs) {
    const next = busyShare();
    if (busy < maxBusy && next < maxBusy) {
      busy = Math.max(busy, next);
      break;
    }
    busy = next;
    if (!told) log(`  waiting for a quiet machine (${Math.round(busy * 100)}% of ${cpus().length} cores busy)…`);
    told = true;
  }
  return { busy, load1: loadavg()[0], waitedMs: performance.now() - t };
}
