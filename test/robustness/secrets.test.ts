// No age identity (private key) ever reaches output: every CLI command and the
// export function are fed one wherever they take a recipient, a path or a
// setting, and their output, logs, receipts and metrics are searched for it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadExportConfig } from '../../lib/service/config.ts';
import { redactSecrets } from '../../lib/core/secrets.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { exportTo, makeKeys, tempDir } from '../support/export-helpers.ts';
import { startHarness, waitFor } from '../support/aws/harness.ts';
import { runSnapmeta, type SnapmetaRun } from '../support/snapmeta-cli.ts';

const SAMPLE: SampleIndexOptions = { layout: 'v2', hostname: 'web1.example.com', snapshots: 1, filesPerSnapshot: 10 };

/** Asserts that `text` holds no part of `secret`, in any case; the key's body is what matters. */
function assertNoSecret(text: string, secret: string, what: string): void {
  const body = secret.replace(/^AGE-SECRET-KEY-1/, '').toLowerCase();
  const lower = text.toLowerCase();
  for (let at = 0; at + 12 <= body.length; at += 12) {
    assert.ok(!lower.includes(body.slice(at, at + 12)), `${what} leaks the secret:\n${text}`);
  }
}

describe('no secret reaches output', () => {
  let dir: ReturnType<typeof tempDir>;
  let secret: string;
  let recipient: string;
  let id: string;
  let bytes: Uint8Array;

  before(async () => {
    dir = tempDir('snapmeta-secrets-');
    // The identity file a newcomer makes, with the Debian tool the README names.
    execFileSync('age-keygen', ['-o', join(dir.path, 'key.txt')], { stdio: 'ignore' });
    secret = readFileSync(join(dir.path, 'key.txt'), 'utf8').match(/^AGE-SECRET-KEY-1\w+$/m)![0];
    recipient = execFileSync('age-keygen', ['-y', join(dir.path, 'key.txt')], { encoding: 'utf8' }).trim();
    bytes = await sampleIndex(SAMPLE);
    id = sampleSnapshotIds(SAMPLE)[0];
    writeFileSync(join(dir.path, 'index.db'), bytes);
    // An export to someone else's key, for the wrong-identity path.
    mkdirSync(join(dir.path, 'other-keys'));
    await exportTo(join(dir.path, 'other'), bytes, id, await makeKeys(join(dir.path, 'other-keys')));
    writeFileSync(join(dir.path, 'public.txt'), `${recipient}\n`);
    writeFileSync(join(dir.path, 'mixed.txt'), `# ours\n${recipient}\n${secret}\n`);
  });

  after(() => dir?.remove());

  const cli = (args: string[], env: Record<string, string> = {}) => runSnapmeta(args, { cwd: dir.path, env, timeout: 30_000 });

  /** Runs each case (a few at a time: they are processes), and checks every output. */
  async function expectRefused(cases: Array<{ args: string[]; env?: Record<string, string>; says?: RegExp }>): Promise<void> {
    const outcomes: SnapmetaRun[] = [];
    for (let i = 0; i < cases.length; i += 4) outcomes.push(...await Promise.all(cases.slice(i, i + 4).map((c) => cli(c.args, c.env))));
    cases.forEach((c, i) => {
      const what = `snapmeta ${c.args.join(' ')} ${JSON.stringify(c.env ?? {})}`.replaceAll(secret, '<secret>');
      assert.notEqual(outcomes[i].code, 0, `${what} should fail:\n${outcomes[i].out}`);
      assertNoSecret(outcomes[i].out, secret, what);
      assert.match(outcomes[i].out, /^snapmeta \w+: [A-Z_]+: /m, what);
      if (c.says) assert.match(outcomes[i].out, c.says, what);
    });
  }

  it('export: the identity file as --recipients-file names the mistake and the command that fixes it', async () => {
    const { code, out } = await cli(['export', 'index.db', '--snapshot', id, '--recipients-file', 'key.txt', '--out', 'backup']);
    assert.equal(code, 1);
    assert.equal(out, 'snapmeta export: BAD_ARGUMENT: key.txt is an age identity file (it holds a private key), not a recipients file; '
      + 'give its public key instead: --recipient $(age-keygen -y key.txt)\n');
  });

  it('export: an identity as any argument, in any case', async () => {
    const base = ['export', 'index.db', '--snapshot', id, '--recipient', recipient];
    await expectRefused([
      { args: ['export', 'index.db', '--snapshot', id, '--recipient', secret], says: /--recipient holds an age identity.*age-keygen -y/ },
      { args: ['export', 'index.db', '--snapshot', id, '--recipient', secret.toLowerCase()] },
      { args: ['export', 'index.db', '--snapshot', id, '--recipient', `${recipient},${secret}`] },
      { args: ['export', 'index.db', '--snapshot', id, '--recipients-file', 'mixed.txt'], says: /mixed\.txt is an age identity file/ },
      { args: ['export', 'index.db', '--snapshot', id, '--recipients-file', secret] },
      { args: ['export', secret, '--snapshot', id, '--recipient', recipient], says: /argument 1 holds an age identity/ },
      { args: ['export', 'index.db', '--snapshot', secret, '--recipient', recipient] },
      { args: [...base, '--out', secret] },
      { args: [...base, '--level', secret] },
      { args: [...base, `--${secret}`] },
    ]);
  });

  it('restore: an identity given as the key itself, as a path, or to the wrong export', async () => {
    const exportDir = `other/metadata/${id}`;
    await expectRefused([
      { args: ['restore', exportDir, '--identity', secret, '--to', 'r1.db'], says: /--identity holds an age identity.*--identity key\.txt/ },
      { args: ['restore', secret, '--identity', 'key.txt', '--to', 'r2.db'] },
      { args: ['restore', 'other', secret, '--identity', 'key.txt', '--to', 'r3.db'] },
      { args: ['restore', exportDir, '--identity', 'key.txt', '--to', secret] },
      { args: ['restore', exportDir, '--identity', 'key.txt', '--to', 'r4.db'], says: /cannot decrypt/ },
      { args: ['restore', exportDir, '--identity', 'public.txt', '--to', 'r5.db'], says: /public\.txt .*recipients file/ },
    ]);
  });

  it('upload, local and sample: an identity as any argument or setting', async () => {
    const upload = ['upload', 'index.db', '--endpoint', 'http://127.0.0.1:9', '--timeout', '1'];
    await expectRefused([
      { args: [...upload, '--host', secret, '--snapshot', id] },
      { args: [...upload, '--host', 'web1', '--snapshot', secret] },
      { args: [...upload, '--host', 'web1', '--snapshot', id, '--bucket', secret] },
      { args: ['upload', secret, '--host', 'web1', '--snapshot', id] },
      { args: ['local', '--port', secret] },
      { args: ['local'], env: { SNAPMETA_PORT: secret } },
      { args: ['local', '--port', '0', '--no-demo'], env: { SNAPMETA_AGE_RECIPIENTS: secret }, says: /SNAPMETA_AGE_RECIPIENTS holds an age identity/ },
      { args: ['sample', secret] },
    ]);
  });

  it('the export function: an identity as its recipients (environment or SSM) fails the start without echoing it', async () => {
    const env = { SNAPMETA_BACKUP_BUCKET: 'b' };
    for (const attempt of [
      () => loadExportConfig({ ...env, SNAPMETA_AGE_RECIPIENTS: secret }),
      () => loadExportConfig({ ...env, SNAPMETA_AGE_RECIPIENTS: `${recipient} ${secret.toLowerCase()}` }),
      () => loadExportConfig({ ...env, SNAPMETA_RECIPIENTS_PARAMETER: '/snapmeta/recipients' }, async () => `${secret}\n`),
    ]) {
      await assert.rejects(attempt(), (err: Error) => {
        assertNoSecret(`${err.message}\n${err.stack}`, secret, 'loadExportConfig');
        assert.match(err.message, /holds an age identity \(a private key\).*age-keygen -y/);
        return true;
      });
    }
  });

  // The staged key is lib/core/keys.ts and lib/service's (receipts, log keys): see the hand-over notes.
  it('the export function: an identity in a staged key reaches no log, receipt or metric', async () => {
    const h = await startHarness();
    try {
      await h.upload(`incoming/${secret}/${id}.db`, bytes);
      await h.upload(`incoming/web1.example.com/${secret}.db`, bytes);
      await waitFor(async () => (await h.list(h.stack.names.stagingBucket, 'rejected/')).length >= 2, 30_000, 'two receipts');
      await h.settled();
      const receipts = await Promise.all((await h.list(h.stack.names.stagingBucket, 'rejected/')).map(async (key) => `${key}\n${Buffer.from(await h.get(h.stack.names.stagingBucket, key)).toString('utf8')}`));
      assertNoSecret(receipts.join('\n'), secret, 'receipts');
      assertNoSecret(JSON.stringify(h.logs), secret, 'handler logs');
      assertNoSecret(JSON.stringify(h.emf.metrics), secret, 'metrics');
    } finally {
      await h.close();
    }
  });

  it('redactSecrets: every identity form, in any case, and nothing else', () => {
    const pq = `AGE-SECRET-KEY-PQ-1${'Q'.repeat(60)}`;
    const plugin = `AGE-PLUGIN-YUBIKEY-1${'Q'.repeat(50)}`;
    const text = `a ${secret} b ${secret.toLowerCase()} c ${pq} d ${plugin} e age-plugin-yubikey ${recipient}`;
    const redacted = redactSecrets(text);
    assertNoSecret(redacted, secret, 'redactSecrets');
    assert.ok(!redacted.includes('Q'.repeat(20)));
    assert.ok(redacted.endsWith(`e age-plugin-yubikey ${recipient}`));
    assert.equal(redactSecrets(redacted), redacted);
  });
});
