// A clean `npm ci`: no engine warning where none is real, no install-script
// notice, and one Node baseline (the Lambda's runtime) in .nvmrc and engines.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
const pkg = JSON.parse(read('package.json'));
const lock = JSON.parse(read('package-lock.json'));
const semver = createRequire(import.meta.url)('semver') as { satisfies(version: string, range: string): boolean };

interface Locked {
  version: string;
  engines?: { node?: string };
  hasInstallScript?: boolean;
  optional?: boolean;
}

const locked = Object.entries(lock.packages as Record<string, Locked>).filter(([path]) => path !== '');

test('every locked package accepts this Node (npm ci warns EBADENGINE otherwise), and so does ours', () => {
  const refused = locked
    .filter(([, p]) => p.engines?.node && !semver.satisfies(process.versions.node, p.engines.node))
    .map(([path, p]) => `${path}@${p.version} wants node ${p.engines!.node}`);
  assert.deepEqual(refused, []);
  assert.ok(semver.satisfies(process.versions.node, pkg.engines.node), `engines ${pkg.engines.node} refuses ${process.version}`);
});

test('Node 22 is the baseline (.nvmrc, the Lambda runtime) and Node 20.19 still works (engines)', () => {
  assert.equal(read('.nvmrc').trim(), '22');
  assert.match(read('infra/export-pipeline.ts'), /runtime: lambda\.Runtime\.NODEJS_22_X/);
  for (const version of ['20.19.0', '22.0.0', '24.0.0']) assert.ok(semver.satisfies(version, pkg.engines.node), version);
  assert.ok(!semver.satisfies('20.10.0', pkg.engines.node), 'age-encryption (@noble/*) needs 20.19');
});

test('every package with an install script has an allowScripts decision (npm 11 lists the others after npm ci)', () => {
  const undecided = locked
    .filter(([, p]) => p.hasInstallScript)
    .map(([path]) => path.replace(/^.*node_modules\//, ''))
    .filter((name) => !(name in (pkg.allowScripts ?? {})));
  assert.deepEqual(undecided, []);
});

test('the CLI ships as built JavaScript: npm ci builds dist/cli, bin runs it, no TypeScript loader at run time', () => {
  assert.equal(pkg.scripts.prepare, 'npm run build --silent', 'npm ci builds it');
  assert.ok(!('tsx' in (pkg.dependencies ?? {})) && 'tsx' in pkg.devDependencies, 'tsx only builds and tests');
  assert.doesNotMatch(read('bin/snapmeta.js'), /tsx|\.ts['"]/);
  const started = spawnSync(process.execPath, [new URL('bin/snapmeta.js', ROOT).pathname, '--help'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(started.status, 0, started.stderr);
  assert.match(started.stdout, /^usage: snapmeta <command>/);
  assert.doesNotMatch(readdirSync(new URL('dist/cli/chunks/', ROOT)).join(' '), /\.ts\b/);
});
