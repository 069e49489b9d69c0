// "Identical restored content": our export, opened with the Debian tools an
// operator uses (age -d | zstd -d | sqlite3 -safe), against the native pipeline's
// pruned database — schema and every row, typed (test/support/compare.ts).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { compareDatabases } from '../test/support/compare.ts';

export function restoredDifferences(exportDir: string, identityFile: string, nativeDb: string, restoredDb: string): string[] {
  execFileSync('bash', ['-o', 'pipefail', '-c', 'age -d -i "$1" "$2" | zstd -dcq | sqlite3 -safe -bail "$3"', 'restore',
    identityFile, join(exportDir, 'db.zst.age'), restoredDb], { stdio: ['ignore', 'ignore', 'pipe'] });
  return compareDatabases(nativeDb, restoredDb);
}
