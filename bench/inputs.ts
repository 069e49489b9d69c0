// Bench inputs: sample indexes (lib/sample/sample-index.ts) built by the sqlite3 tool,
// kept under bench/work/ between runs of the same parameters, and an age key.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleIndexSql, sampleSnapshotIds, type SampleIndexOptions } from '../lib/sample/sample-index.ts';

export interface BenchIndex {
  path: string;
  bytes: number;
  /** The newest snapshot: what an agent uploads right after a backup. */
  snapshotId: string;
  options: SampleIndexOptions;
}

export function sampleIndexFile(work: string, label: string, options: SampleIndexOptions, log: (s: string) => void): BenchIndex {
  const path = join(work, `index-${options.layout}-${label}-${options.snapshots}.db`);
  const sidecar = `${path}.json`;
  const snapshotId = sampleSnapshotIds(options).at(-1)!;
  if (!existsSync(path) || !existsSync(sidecar) || readFileSync(sidecar, 'utf8') !== JSON.stringify(options)) {
    rmSync(path, { force: true });
    const t = performance.now();
    log(`  building a ${label} ${options.layout} index with ${options.snapshots} snapshots…`);
    execFileSync('sqlite3', ['-batch', '-bail', path], { input: sampleIndexSql(options), stdio: ['pipe', 'ignore', 'inherit'] });
    writeFileSync(sidecar, JSON.stringify(options));
    log(`  built ${path} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return { path, bytes: statSync(path).size, snapshotId, options };
}

export function removeIndexFile(index: BenchIndex): void {
  rmSync(index.path, { force: true });
  rmSync(`${index.path}.json`, { force: true });
}

export interface AgeKey {
  identityFile: string;
  recipient: string;
}

export function ageKey(work: string): AgeKey {
  const identityFile = join(work, 'key.txt');
  if (!existsSync(identityFile)) execFileSync('age-keygen', ['-o', identityFile], { stdio: 'ignore' });
  return { identityFile, recipient: execFileSync('age-keygen', ['-y', identityFile], { encoding: 'utf8' }).trim() };
}
