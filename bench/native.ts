// The users' alternative, as the original design ran it: copy the index, prune
// the copy by DELETE with the sqlite3 tool (then VACUUM), and stream
// `sqlite3 .dump | zstd -3 -T0 | age -r`. Every stage is timed on its own.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LayoutShortName } from '../lib/core/layout.ts';
import { nativePruneSql, readIndexObjects } from '../test/support/native-prune.ts';
import { measure, parseTimeReport } from './measure.ts';

export interface NativeRun {
  wallMs: number;
  stages: { copy: number; prune: number; 'dump|zstd|age': number };
  /** CPU time of each tool (the three of the stream run at once). */
  cpuMs: { prune: number; dump: number; zstd: number; age: number };
  /** The larger of the prune and the stream's three processes together. */
  peakRssBytes: number;
  outputBytes: number;
  /** The pruned copy, kept for the content check. */
  prunedDb: string;
}

const STREAM = `set -o pipefail
/usr/bin/time -f '%U %S %M' -o "$1.dump" sqlite3 -bail "$2" .dump \\
  | /usr/bin/time -f '%U %S %M' -o "$1.zstd" zstd -3 -T0 -q -c \\
  | /usr/bin/time -f '%U %S %M' -o "$1.age" age -r "$3" > "$4"`;

export interface StreamRun {
  wallMs: number;
  cpuMs: { dump: number; zstd: number; age: number };
  /** The three processes together: they run at once. */
  peakRssBytes: number;
  outputBytes: number;
}

/** `sqlite3 .dump | zstd -3 -T0 | age -r` of a pruned database, each tool under GNU time. */
export function streamDump(prunedDb: string, recipient: string, output: string): StreamRun {
  const times = `${output}.time`;
  const stream = measure('bash', ['-c', STREAM, 'stream', times, prunedDb, recipient, output]);
  const tools = Object.fromEntries(['dump', 'zstd', 'age'].map((t) => {
    const file = `${times}.${t}`;
    const report = parseTimeReport(readFileSync(file, 'utf8'));
    rmSync(file);
    return [t, report];
  })) as Record<'dump' | 'zstd' | 'age', ReturnType<typeof parseTimeReport>>;
  return {
    wallMs: stream.wallMs,
    cpuMs: { dump: tools.dump.cpuMs, zstd: tools.zstd.cpuMs, age: tools.age.cpuMs },
    peakRssBytes: tools.dump.peakRssBytes + tools.zstd.peakRssBytes + tools.age.peakRssBytes,
    outputBytes: statSync(output).size,
  };
}

export function runNative(index: string, layout: LayoutShortName, snapshotId: string, recipient: string, dir: string): NativeRun {
  const prunedDb = join(dir, 'native.db');
  const copy = measure('cp', [index, prunedDb]);
  // The script names the upload's own triggers, views and extra tables: reading them is not timed.
  const script = nativePruneSql(layout, snapshotId, readIndexObjects(prunedDb));
  const prune = measure('sqlite3', ['-batch', '-bail', prunedDb], { input: script });
  const stream = streamDump(prunedDb, recipient, join(dir, 'native.db.zst.age'));
  return {
    wallMs: copy.wallMs + prune.wallMs + stream.wallMs,
    stages: { copy: copy.wallMs, prune: prune.wallMs, 'dump|zstd|age': stream.wallMs },
    cpuMs: { prune: prune.cpuMs, ...stream.cpuMs },
    peakRssBytes: Math.max(prune.peakRssBytes, stream.peakRssBytes),
    outputBytes: stream.outputBytes,
    prunedDb,
  };
}
