// "Identical restored content": our export, opened with the Debian tools an
// operator uses (age -d | zstd -d | sqlite3 -safe), against each native pipeline's
// pruned database — schema and every row, typed (test/support/compare.ts).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { compareDatabases } from '../test/support/compare.ts';

/** Restores metadata/<id>/db.zst.age as an operator does, into a new SQLite file. */
export function restoreExport(exportDir: string, identityFile: string, restoredDb: string): void {
  execFileSync('bash', ['-o', 'pipefail', '-c', 'age -d -i "$1" "$2" | zstd -dcq | sqlite3 -safe -bail "$3"', 'restore',
    identityFile, join(exportDir, 'db.zst.age'), restoredDb], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface Differences {
  /** The seed pipeline's pruned copy against our (cold) export; empty when identical. */
  seed?: string[];
  /** The copy-forward pipeline's fresh database against our export. */
  copyForward?: string[];
  /** Our warm process's second export against the cold one. */
  warm?: string[];
}

export function differences(dir: string, identityFile: string, o: { cold: string; warm?: string; seedDb?: string; copyForwardDb?: string }): Differences {
  const restored = join(dir, 'restored.db');
  const restoredWarm = join(dir, 'restored-warm.db');
  try {
    restoreExport(o.cold, identityFile, restored);
    if (o.warm) restoreExport(o.warm, identityFile, restoredWarm);
    return {
      seed: o.seedDb ? compareDatabases(o.seedDb, restored) : undefined,
      copyForward: o.copyForwardDb ? compareDatabases(o.copyForwardDb, restored) : undefined,
      warm: o.warm ? compareDatabases(restored, restoredWarm) : undefined,
    };
  } finally {
    // Each is about the pruned index's size: free the disk for what follows.
    rmSync(restored, { force: true });
    rmSync(restoredWarm, { force: true });
  }
}
