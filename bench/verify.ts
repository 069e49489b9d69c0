// "Identical restored content": our export, opened with the Debian tools an
// operator uses (age -d | zstd -d | sqlite3 -safe), against each native pipeline's
// pruned database — schema and every row, typed (test/support/compare.ts).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { compareDatabases } from '../test/support/compare.ts';
import { debianRestore, type Keys } from '../test/support/export-helpers.ts';

/** debianRestore needs only the identity file of a test's keys. */
export const restoreKeys = (identityFile: string) => ({ identityFile }) as Keys;

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
    debianRestore(o.cold, restoreKeys(identityFile), restored);
    if (o.warm) debianRestore(o.warm, restoreKeys(identityFile), restoredWarm);
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
