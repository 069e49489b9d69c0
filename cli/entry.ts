// The CLI program: what `npm run build` bundles into dist/cli/index.mjs and
// bin/snapmeta.js runs.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
