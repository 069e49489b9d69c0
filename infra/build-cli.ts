// npm run build (npm ci runs it as `prepare`; npm start and npm test before
// they run): the CLI as one split esbuild bundle in dist/cli/, so `snapmeta`
// starts without a TypeScript loader and the benchmark times exactly what users
// run. Skipped when no source is newer than the build (ensureCliBuilt), so a run
// of the tests never swaps the build under a command that is using it.
import { ensureCliBuilt } from './bundle.ts';

ensureCliBuilt({ force: process.argv.includes('--force') });
