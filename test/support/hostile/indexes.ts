// Hostile variations of the fixture indexes, made with the Debian sqlite3 CLI
// (which has FTS5 and R*Tree, unlike our sql.js), and the check that an export
// of one is exact: restored with age/zstd/sqlite3 -safe and with `snapmeta
// restore`, and compared, value by value, with the same snapshot pruned by the
// sqlite3 CLI (test/support/native-prune.ts).
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LayoutShortName } from '../../../lib/core/layout.ts';
import { compareDatabases } from '../compare.ts';
import { debianRestore, exportTo, snapmetaRestore, type ExportResult, type Keys } from '../export-helpers.ts';
import { nativePrune } from '../native-prune.ts';
import { sqlite } from '../sqlite-cli.ts';

let made = 0;

/** The index `base` with `sql` applied by the sqlite3 CLI, as a file in dir and as bytes. */
export function hostileIndex(dir: string, base: Uint8Array, sql: string): { path: string; bytes: Buffer } {
  const path = join(dir, `hostile-${++made}.db`);
  writeFileSync(path, base);
  sqlite(path, sql);
  return { path, bytes: readFileSync(path) };
}

export interface ExactExport {
  result: ExportResult;
  /** Where its db.zst.age and manifest.json.zst are. */
  exportDir: string;
  /** The export restored by the Debian tools (sqlite3 -safe). */
  restored: string;
  /**
   * Differences from the sqlite3 CLI's pruning, then any between the two
   * restores (prefixed "snapmeta restore:"); empty when exact.
   */
  diffs: string[];
}

/**
 * Exports snapshot id of the index at path, restores it with the Debian tools
 * and compares it with the sqlite3 CLI's pruning of the same file.
 * referenceSql runs on the reference copy first: what the export is expected to leave out.
 */
export async function exportExactly(dir: string, keys: Keys, path: string, layout: LayoutShortName, id: string, referenceSql = ''): Promise<ExactExport> {
  const n = ++made;
  const out = join(dir, `out-${n}`);
  const result = await exportTo(out, readFileSync(path), id, keys);
  const restored = join(dir, `restored-${n}.db`);
  debianRestore(join(out, 'metadata', id), keys, restored);
  const ours = join(dir, `ours-${n}.db`);
  await snapmetaRestore(join(out, 'metadata', id), keys, ours);
  let source = path;
  if (referenceSql) {
    source = join(dir, `reference-source-${n}.db`);
    copyFileSync(path, source);
    sqlite(source, referenceSql);
  }
  const expected = join(dir, `reference-${n}.db`);
  nativePrune(source, expected, layout, id);
  const diffs = [...compareDatabases(expected, restored), ...compareDatabases(restored, ours).map((d) => `snapmeta restore: ${d}`)];
  return { result, exportDir: join(out, 'metadata', id), restored, diffs };
}
