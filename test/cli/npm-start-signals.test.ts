// `npm start` stopped the way a script or a supervisor stops it: SIGINT or
// SIGTERM to the npm process alone (not to a terminal's process group). The
// stack must stop cleanly, free its port, leave no process behind, and print
// no warning on the way.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, symlinkSync } from 'node:fs';
import { alive, childrenOf, portFree } from '../support/processes.ts';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/export-helpers.ts';
import { waitFor } from '../support/aws/harness.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

describe('npm start stops on a signal to npm', () => {
  let dir: ReturnType<typeof tempDir>;

  // A directory of its own (the stack keeps .snapmeta/ in its working
  // directory) running this package's own start script.
  before(() => {
    dir = tempDir('snapmeta-npm-start-');
    copyFileSync(join(ROOT, 'package.json'), join(dir.path, 'package.json'));
    // The start script builds the CLI first: its build script and tools, then bin.
    for (const name of ['bin', 'infra', 'node_modules']) symlinkSync(join(ROOT, name), join(dir.path, name));
  });
  after(() => dir?.remove());

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: exit 0, port free within seconds, nothing left running, no warning`, async () => {
      const env = { ...process.env };
      for (const name of ['SNAPMETA_AGE_RECIPIENTS', 'SNAPMETA_PORT', 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED']) delete env[name];
      const npm = spawn('npm', ['start', '--', '--port', '0', '--no-demo'], { cwd: dir.path, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      npm.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      npm.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<number | null>((done) => npm.on('exit', (code) => done(code)));
      let stack: number | undefined;
      try {
        await waitFor(() => /S3 \+ SQS on http:\/\/127\.0\.0\.1:\d+/.test(stdout), 30_000, `the banner\n${stdout}\n${stderr}`);
        const port = Number(stdout.match(/127\.0\.0\.1:(\d+)/)![1]);
        // The process npm runs the script in (with `exec`, the stack itself).
        stack = childrenOf(npm.pid!)[0];
        assert.ok(stack, 'npm runs the stack');
        npm.kill(signal);
        const code = await Promise.race([exited, new Promise((_, fail) => setTimeout(() => fail(new Error(`npm still running 15 s after ${signal}\n${stdout}`)), 15_000))]);
        assert.equal(code, 0, stderr);
        assert.match(stdout, /stopped; port freed/);
        assert.equal(stderr, '', 'no warning (engine, AWS SDK, …) on the way');
        await waitFor(() => !alive(stack!), 5_000, `the stack's process ${stack} to exit`);
        await waitFor(() => portFree(port), 5_000, `port ${port} to be free`);
      } finally {
        if (npm.exitCode === null) npm.kill('SIGKILL');
        if (stack && alive(stack)) process.kill(stack, 'SIGKILL');
      }
    });
  }
});
