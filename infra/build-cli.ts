// npm run build (npm ci runs it as `prepare`): the CLI as one split esbuild
// bundle in dist/cli/, so `snapmeta` starts without a TypeScript loader and the
// benchmark times exactly what users run.
import { bundleCli } from './bundle.ts';

// Quiet on success: npm ci runs it, and prints only its own summary.
bundleCli();
