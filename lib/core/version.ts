import { createRequire } from 'node:module';

// Read once from package.json in a checkout; a bundle defines SNAPMETA_VERSION at build time.
declare const SNAPMETA_VERSION: string | undefined;

function readVersion(): string {
  if (typeof SNAPMETA_VERSION === 'string') return SNAPMETA_VERSION;
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export const VERSION = readVersion();
export const GENERATOR = `snapmeta/${VERSION}`;
