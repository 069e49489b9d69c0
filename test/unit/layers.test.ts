// The house rule, read from the imports themselves: each layer imports only
// the layers below it, and the pure ones (codecs, core, pipeline) reach no AWS
// SDK and no file system, so the Lambda, the CLI and the tests share them as is.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Layer {
  folder: string;
  /** Project folders (or single files) this layer may import from, itself included. */
  may: string[];
  /** No AWS SDK, no node:fs: plain bytes in, plain bytes out. */
  pure?: boolean;
  /** Packages only this layer may import. */
  owns?: RegExp;
}

const LIB = ['lib/codecs', 'lib/core', 'lib/stores', 'lib/pipeline', 'lib/service'];
const LAYERS: Layer[] = [
  { folder: 'lib/codecs', may: ['lib/codecs'], pure: true },
  { folder: 'lib/core', may: ['lib/core', 'lib/codecs'], pure: true },
  { folder: 'lib/stores', may: ['lib/stores', 'lib/core', 'lib/codecs'] },
  // The pipeline sees stores through their interface only.
  { folder: 'lib/pipeline', may: ['lib/pipeline', 'lib/core', 'lib/codecs', 'lib/stores/store.ts'], pure: true },
  { folder: 'lib/service', may: LIB },
  { folder: 'lib/sample', may: ['lib/sample', 'lib/core', 'lib/codecs'] },
  { folder: 'functions', may: ['functions', ...LIB] },
  { folder: 'infra', may: ['infra', 'lib/service', 'lib/core', 'lib/codecs'], owns: /^(aws-cdk-lib|constructs|cdk-nag|esbuild)(\/|$)/ },
  { folder: 'local', may: ['local', 'functions', ...LIB] },
  { folder: 'cli', may: ['cli', 'local', 'functions', 'lib/sample', ...LIB] },
  { folder: 'bench', may: ['bench', 'cli', 'local', 'functions', 'infra/bundle.ts', 'lib/sample', 'test/support', ...LIB] },
];

const IMPURE = /^(@aws-sdk\/|(node:)?fs(\/promises)?$)/;
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;

function sources(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.parentPath.includes('node_modules') && !entry.parentPath.includes(join('bench', 'work')))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3]);
}

const within = (path: string, place: string) => path === place || path.startsWith(`${place}/`);

function violations(layer: Layer): string[] {
  const found: string[] = [];
  for (const file of sources(layer.folder)) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) {
        const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
        if (!layer.may.some((place) => within(target, place))) found.push(`${file} imports ${target}`);
      } else if (layer.pure && IMPURE.test(spec)) {
        found.push(`${file} imports ${spec}, which a pure layer must not`);
      } else {
        const owner = LAYERS.find((other) => other.owns?.test(spec));
        if (owner && owner !== layer) found.push(`${file} imports ${spec}, which only ${owner.folder}/ may`);
      }
    }
  }
  return found;
}

for (const layer of LAYERS) {
  test(`${layer.folder}/ imports only ${layer.may.join(', ')}${layer.pure ? ', and no AWS SDK or file system' : ''}`, () => {
    assert.deepEqual(violations(layer), []);
  });
}

test('every library module sits in a layer folder', () => {
  const loose = sources('lib').filter((file) => !LAYERS.some((layer) => within(file, layer.folder)));
  assert.deepEqual(loose, []);
});

test('the rule reads imports as written: a violation is reported', () => {
  // Guards the checker itself: were IMPORT to match nothing, every layer would pass.
  assert.ok(importsOf('lib/pipeline/publish.ts').includes('../core/keys.ts'));
  const strict: Layer = { folder: 'lib/pipeline', may: ['lib/pipeline'], pure: true };
  assert.ok(violations(strict).some((v) => v.includes('lib/core')));
});
