// What the numbers were measured on.
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
  tools: string;
}

const version = (cmd: string, args: string[], pick: (out: string) => string) => {
  try {
    return pick(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return 'missing';
  }
};

export function describeMachine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    memoryBytes: totalmem(),
    os: `Linux ${release()}`,
    node: process.versions.node,
    tools: [
      `sqlite3 ${version('sqlite3', ['--version'], (o) => o.split(' ')[0])}`,
      `zstd ${version('zstd', ['--version'], (o) => /v([\d.]+)/.exec(o)?.[1] ?? '?')}`,
      `age ${version('age', ['--version'], (o) => o.trim())}`,
    ].join(', '),
  };
}
