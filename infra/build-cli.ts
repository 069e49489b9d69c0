// npm run build (npm ci runs it as `prepare`; npm start and npm test before
// they run): the CLI as one split esbuild bundle in dist/cli/, so `snapmeta`
// starts without a TypeScript loader and the benchmark times exactly what users
// run. Skipped when no source is newer than the build, so a run of the tests
// never swaps the build under a command that is using it.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bundleCli, CLI_DIR, PROJECT_ROOT } from './bundle.ts';

const SOURCES = ['cli', 'lib', 'local', 'functions', 'infra/bundle.ts', 'package.json', 'package-lock.json'];

function newestSource(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestSource(join(path, entry))));
}

const builtAt = (() => {
  try {
    return statSync(join(CLI_DIR, 'index.mjs')).mtimeMs;
  } catch {
    return 0;
  }
})();
if (process.argv.includes('--force') || SOURCES.some((source) => newestSource(join(PROJECT_ROOT, source)) > builtAt)) bundleCli();
