// The CREATE statements of the two index layouts, read from the .sql files
// beside this module (copies of the reference schemas, so a clone needs
// nothing outside the repo).
import { readFileSync } from 'node:fs';

export type IndexLayout = 'v1' | 'v2';

export const SCHEMA_FILES: Record<IndexLayout, string> = {
  v1: 'v1-path-keyed.sql',
  v2: 'v2-id-keyed.sql',
};

export function schemaSql(layout: IndexLayout): string {
  return readFileSync(new URL(`schemas/${SCHEMA_FILES[layout]}`, import.meta.url), 'utf8');
}
