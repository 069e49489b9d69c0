// Builds the export Lambda's code directory with the local esbuild (no Docker,
// no network). The stack's asset and the tests both use this one function, so
// what the tests load is what gets deployed.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { Architecture } from '../lib/service/settings.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ENTRY = join(PROJECT_ROOT, 'functions', 'export.ts');
/** ESM by its extension: Lambda's Node runtime loads index.mjs as a module. */
export const BUNDLE_FILE = 'index.mjs';
export const HANDLER = 'index.handler';
/** The export worker thread's own entry (lib/pipeline/worker-export.ts starts it from beside the bundle). */
export const WORKER_ENTRY = join(PROJECT_ROOT, 'lib', 'pipeline', 'export-worker.ts');
export const WORKER_FILE = 'export-worker.mjs';
/** lib/core/sqlite.ts looks for the WASM beside the running module when node_modules has no sql.js. */
export const WASM_FILE = 'sql-wasm.wasm';
const CHUNKS = 'chunks';

// @mongodb-js/zstd loads its binary from one npm package per platform; npm
// installs only the build machine's. Lambda runs glibc Linux.
const ZSTD_ADDON = '@mongodb-js/zstd';
const ZSTD_PLATFORM_PACKAGE: Record<Architecture, string> = {
  arm64: '@mongodb-js/zstd-linux-arm64-gnu',
  x86_64: '@mongodb-js/zstd-linux-x64-gnu',
};

// CommonJS inside an ESM bundle still calls require() and reads __dirname
// (sql.js does); give them module-relative values. The dirname/filename go
// through `define` under names no bundled module can declare.
const BANNER = [
  "import { createRequire as __snapmetaCreateRequire } from 'node:module';",
  "import { dirname as __snapmetaDirnameOf } from 'node:path';",
  "import { fileURLToPath as __snapmetaFileURLToPath } from 'node:url';",
  'const require = __snapmetaCreateRequire(import.meta.url);',
  'const __snapmetaFilename = __snapmetaFileURLToPath(import.meta.url);',
  'const __snapmetaDirname = __snapmetaDirnameOf(__snapmetaFilename);',
].join('\n');

export interface BundleOptions {
  architecture: Architecture;
  outDir: string;
  entry?: string;
  /**
   * Each dynamically imported module in a file of its own, loaded only when
   * used: the CLI's export then never parses the local stack and AWS SDK it
   * does not run (~100 ms of start-up). The function imports all it has.
   */
  split?: boolean;
}

export interface BundleResult {
  bundleFile: string;
  wasmFile: string;
  /**
   * The zstd platform package copied into the bundle's node_modules, or
   * undefined when it is not installed here: the function then uses Node's
   * built-in zstd (zlib.zstdCompress, Node >= 22.15, which nodejs22.x has).
   */
  zstdPlatformPackage: string | undefined;
}

export function bundleFunction({ architecture, outDir, entry = ENTRY, split = false }: BundleOptions): BundleResult {
  mkdirSync(outDir, { recursive: true });
  const bundleFile = join(outDir, BUNDLE_FILE);
  buildSync({
    entryPoints: [{ in: entry, out: 'index' }, { in: WORKER_ENTRY, out: WORKER_FILE.replace(/\.mjs$/, '') }],
    outdir: outDir,
    ...(split ? { splitting: true, chunkNames: `${CHUNKS}/[name]-[hash]` } : {}),
    outExtension: { '.js': '.mjs' },
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    // The bundle must also run on this machine's Node 20 (tests, local stack).
    target: 'node20',
    mainFields: ['module', 'main'],
    // Resolved at run time from the bundle's own node_modules (copied below).
    external: [ZSTD_ADDON],
    banner: { js: BANNER },
    define: {
      __dirname: '__snapmetaDirname',
      __filename: '__snapmetaFilename',
      SNAPMETA_VERSION: JSON.stringify(packageVersion()),
      // Where lib/pipeline/worker-export.ts finds it, from a chunk of a split build too.
      SNAPMETA_EXPORT_WORKER: JSON.stringify({ file: WORKER_FILE, chunkDir: split ? CHUNKS : undefined }),
    },
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'error',
  });

  // Beside the module that loads it: in a split build, that is a chunk.
  const wasmFile = join(split ? join(outDir, CHUNKS) : outDir, WASM_FILE);
  cpSync(join(packageDir('sql.js')!, 'dist', WASM_FILE), wasmFile);

  const platformPackage = ZSTD_PLATFORM_PACKAGE[architecture];
  const installed = packageDir(platformPackage);
  if (installed) {
    copyPackage(ZSTD_ADDON, outDir);
    copyPackage(platformPackage, outDir);
  }
  return { bundleFile, wasmFile, zstdPlatformPackage: installed ? platformPackage : undefined };
}

export const CLI_ENTRY = join(PROJECT_ROOT, 'cli', 'entry.ts');
export const CLI_DIR = join(PROJECT_ROOT, 'dist', 'cli');
const SAMPLE_SCHEMAS = join(PROJECT_ROOT, 'lib', 'sample', 'schemas');

/**
 * The CLI (or another entry that runs it, as the bench's warm export does),
 * bundled for this machine into a cleared outDir, split so a command loads only
 * its own modules. The sample generator reads its schema files beside the module
 * that holds it, which in a split build is a chunk: they go beside both.
 */
export function bundleCli(outDir = CLI_DIR, entry = CLI_ENTRY): BundleResult {
  rmSync(outDir, { recursive: true, force: true });
  const architecture: Architecture = process.arch === 'arm64' ? 'arm64' : 'x86_64';
  const result = bundleFunction({ architecture, outDir, entry, split: true });
  for (const dir of [outDir, join(outDir, CHUNKS)]) cpSync(SAMPLE_SCHEMAS, join(dir, 'schemas'), { recursive: true });
  return result;
}

/** What the CLI's build is made from: a change to any of them makes it stale. */
const CLI_SOURCES = ['cli', 'lib', 'local', 'functions', 'infra/bundle.ts', 'package.json', 'package-lock.json'];

function newestSource(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestSource(join(path, entry))));
}

/**
 * Builds dist/cli unless it is newer than every source (or `force`), so a
 * command already running from it never has its build swapped. True when it built.
 */
export function ensureCliBuilt({ force = false }: { force?: boolean } = {}): boolean {
  let builtAt = 0;
  try {
    builtAt = statSync(join(CLI_DIR, BUNDLE_FILE)).mtimeMs;
  } catch {
    // Never built.
  }
  if (!force && !CLI_SOURCES.some((source) => newestSource(join(PROJECT_ROOT, source)) > builtAt)) return false;
  bundleCli();
  return true;
}

function packageDir(name: string): string | undefined {
  const dir = join(PROJECT_ROOT, 'node_modules', name);
  return existsSync(join(dir, 'package.json')) ? dir : undefined;
}

function copyPackage(name: string, outDir: string): void {
  cpSync(packageDir(name)!, join(outDir, 'node_modules', name), { recursive: true });
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}
