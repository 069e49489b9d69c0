// `snapmeta …` as a user runs it, in a process of its own: asynchronous, so a
// server running in the test's process keeps answering it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const BIN = new URL('../../bin/snapmeta.js', import.meta.url).pathname;
const run = promisify(execFile);

export interface SnapmetaRun {
  /** The exit status (as execFile reports it when the command fails). */
  code: number;
  stdout: string;
  stderr: string;
  /** stdout followed by stderr. */
  out: string;
}

export interface SnapmetaRunOptions {
  cwd?: string;
  /** Set on top of this process's environment. */
  env?: Record<string, string>;
  timeout?: number;
}

export async function runSnapmeta(args: string[], { cwd, env, timeout }: SnapmetaRunOptions = {}): Promise<SnapmetaRun> {
  return run(process.execPath, [BIN, ...args], { cwd, env: env && { ...process.env, ...env }, timeout, encoding: 'utf8' }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr, out: stdout + stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr, out: err.stdout + err.stderr }),
  );
}
