// The CREATE statements of the two backup-database layouts, read from the .sql
// files beside this module (copies of the reference schemas, so a clone needs
// nothing outside the repo). Each file is named after its layout.
import { readFileSync } from 'node:fs';
import { LAYOUT_NAMES, type LayoutShortName } from '../core/layout.ts';

export const SCHEMA_FILES: Record<LayoutShortName, string> = {
  v1: `${LAYOUT_NAMES.v1}.sql`,
  v2: `${LAYOUT_NAMES.v2}.sql`,
};

export function schemaSql(layout: LayoutShortName): string {
  return readFileSync(new URL(`schemas/${SCHEMA_FILES[layout]}`, import.meta.url), 'utf8');
}
