// `snapmeta` as one esbuild bundle (infra/bundle.ts, as the function ships):
// the bench times the export, not the TypeScript loader bin/snapmeta.js uses.
import { main } from '../cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
