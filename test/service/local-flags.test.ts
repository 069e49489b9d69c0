// The local stack takes the function's output settings as flags (or the
// variables the deployed function reads), and says which it runs with.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../support/aws/harness.ts';
import { tempDir } from '../support/export-helpers.ts';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'snapmeta.js');

async function banner(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const dir = tempDir('snapmeta-local-flags-');
  const child = spawn(process.execPath, [BIN, 'local', '--port', '0', '--no-demo', ...args], { cwd: dir.path, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const exited = new Promise((done) => child.on('exit', done));
  try {
    await waitFor(() => /backup bucket/.test(out) || child.exitCode !== null, 30_000, `the banner\n${out}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
    dir.remove();
  }
  return out;
}

test('snapmeta local --format sqlite --key-scheme hashed runs the function as today\'s readers need', async () => {
  assert.match(await banner(['--format', 'sqlite', '--key-scheme', 'hashed']), /metadata\/<hash of snapshot-id>\/db\.zst\.age, sqlite,/);
  assert.match(await banner([], { SNAPMETA_FORMAT: 'sqlite' }), /metadata\/<snapshot-id>\/db\.zst\.age, sqlite,/);
  assert.match(await banner(['--key-scheme', 'sha1']), /BAD_ARGUMENT: --key-scheme must be plain or hashed, not "sha1"/);
});
