// `npm start` as a user meets it: the stack as a child process (what `npm start`
// runs), its demo export, uploads by an independent S3 client and by
// `snapmeta upload`, restores with Debian's age/zstd/sqlite3, and a clean Ctrl-C.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { alive, childrenOf, portFree } from '../support/processes.ts';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { debianRestore, tempDir } from '../support/export-helpers.ts';
import { waitFor } from '../support/aws/harness.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'snapmeta.js');
const run = promisify(execFile);

/** The stack as a child process, with its output collected line by line. */
class StackProcess {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(cwd: string) {
    const env = { ...process.env };
    delete env.SNAPMETA_AGE_RECIPIENTS;
    delete env.SNAPMETA_PORT;
    this.child = spawn(process.execPath, [BIN, 'local', '--port', '0'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (buffered + chunk).split('\n');
      buffered = parts.pop()!;
      this.lines.push(...parts);
    });
    let stderr = '';
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.exited.then(() => (this.stderr = stderr));
  }

  stderr = '';

  async line(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    let match: RegExpMatchArray | null = null;
    await waitFor(() => this.lines.some((l) => (match = l.match(pattern))), timeoutMs, `a line matching ${pattern}\n${this.lines.join('\n')}`);
    return match!;
  }
}

describe('npm start (snapmeta local)', () => {
  let dir: ReturnType<typeof tempDir>;
  let stack: StackProcess;
  let endpoint: string;
  let port: number;
  let s3: S3Client;

  before(async () => {
    dir = tempDir('snapmeta-local-');
    stack = new StackProcess(dir.path);
    const started = await stack.line(/S3 \+ SQS on (http:\/\/127\.0\.0\.1:(\d+))/, 30_000);
    endpoint = started[1];
    port = Number(started[2]);
    // Independent of our code: the plain SDK, any credentials, as the README says.
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'any', secretAccessKey: 'any' } });
  });

  after(async () => {
    s3?.destroy();
    if (stack.child.exitCode === null) {
      stack.child.kill('SIGKILL');
      await stack.exited;
    }
    dir.remove();
  });

  it('shows the demo export within a minute, restorable with the command it prints', async () => {
    await stack.line(/^demo: published snapshot demo\.example\.com_/, 60_000);
    const [, exportDir, identity] = await stack.line(/restore: npx snapmeta restore (\S+) --identity (\S+) --to restored\.db/, 5_000);
    assert.equal(identity, '.snapmeta/dev-identity.txt');
    assert.equal(statSync(join(dir.path, identity)).mode & 0o777, 0o600);
    const recipient = readFileSync(join(dir.path, identity), 'utf8').match(/# public key: (age1\w+)/)![1];
    assert.ok(stack.lines.some((l) => l.includes(recipient)), 'prints the development recipient');

    const { stdout } = await run(process.execPath, [BIN, 'restore', exportDir, '--identity', identity, '--to', 'restored.db'], { cwd: dir.path });
    assert.match(stdout, /integrity ok, hash and row counts match the manifest/);
    await stack.line(/^status: .*exported 1\b/, 10_000);
  });

  it('exports an upload from any S3 client and rejects a corrupt one with a receipt', async () => {
    const opts: SampleIndexOptions = { layout: 'v1', hostname: 'files.example.com', snapshots: 2, filesPerSnapshot: 30 };
    const id = sampleSnapshotIds(opts)[1];
    await s3.send(new PutObjectCommand({ Bucket: 'snapmeta-staging', Key: `incoming/files/${id}.db`, Body: await sampleIndex(opts) }));
    await s3.send(new PutObjectCommand({ Bucket: 'snapmeta-staging', Key: 'incoming/files/broken.db', Body: 'not sqlite' }));

    const processed = await readReceipt(`processed/files/${id}.json`);
    assert.equal(processed.status, 'published');
    const rejected = await readReceipt('rejected/files/broken.json');
    assert.equal(rejected.error.code, 'NOT_SQLITE');
    await stack.line(/rejected\s+NOT_SQLITE: /, 5_000);

    // Restore from the backup bucket with Debian's tools and the dev identity.
    const exportDir = join(dir.path, 'fetched');
    const db = await s3.send(new GetObjectCommand({ Bucket: 'snapmeta-backups', Key: `metadata/${id}/db.zst.age` }));
    mkdirSync(exportDir);
    writeFileSync(join(exportDir, 'db.zst.age'), await db.Body!.transformToByteArray());
    const restored = join(dir.path, 'files.db');
    // Only the identity file is read.
    debianRestore(exportDir, { identityFile: join(dir.path, '.snapmeta/dev-identity.txt'), identity: '', recipient: '' }, restored);
    const { stdout } = await run('sqlite3', [restored, 'SELECT id FROM snapshots']);
    assert.equal(stdout.trim(), id);
  });

  it('`snapmeta upload` waits for the receipt: exit 0 when published, 1 when rejected', async () => {
    const opts: SampleIndexOptions = { layout: 'v2', hostname: 'agent7', snapshots: 1, filesPerSnapshot: 10 };
    const id = sampleSnapshotIds(opts)[0];
    const file = join(dir.path, 'agent7.db');
    writeFileSync(file, await sampleIndex(opts));
    const ok = await run(process.execPath, [BIN, 'upload', file, '--host', 'agent7', '--snapshot', id, '--endpoint', endpoint, '--compress', '--timeout', '60'], { cwd: dir.path });
    assert.match(ok.stdout, new RegExp(`uploaded .* to s3://snapmeta-staging/incoming/agent7/${id.replace(/[.+]/g, '\\$&')}\\.db\\.zst`));
    assert.match(ok.stdout, /^published: snapshot agent7_/m);
    assert.equal(JSON.parse(ok.stdout.slice(ok.stdout.indexOf('\n{') + 1)).status, 'published');

    const bad = join(dir.path, 'bad.db');
    writeFileSync(bad, 'SQLite format 3\0 but nothing else');
    const failed = await run(process.execPath, [BIN, 'upload', bad, '--host', 'agent7', '--snapshot', 'agent7_x', '--endpoint', endpoint, '--timeout', '60'], { cwd: dir.path }).then(
      () => assert.fail('expected a non-zero exit'),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /^rejected: CORRUPT: /m);

    const badKey = await run(process.execPath, [BIN, 'upload', bad, '--host', 'a/b', '--snapshot', 'x', '--endpoint', endpoint], { cwd: dir.path }).then(
      () => assert.fail('expected a non-zero exit'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /BAD_KEY/);
  });

  it('stops cleanly on Ctrl-C: exit 0, port freed, no process left behind', async () => {
    // tsx's esbuild service is the only helper process the stack may have.
    const children = childrenOf(stack.child.pid!);
    stack.child.kill('SIGINT');
    const code = await Promise.race([stack.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('no exit within 15 s')), 15_000))]);
    assert.equal(code, 0, stack.stderr);
    assert.ok(stack.lines.includes('stopped; port freed'));
    await waitFor(() => children.every((pid) => !alive(pid)), 5_000, `child processes ${children} to exit`);
    assert.ok(await portFree(port), `port ${port} is free`);
  });

  async function readReceipt(key: string) {
    let body: string | undefined;
    await waitFor(
      async () => {
        body = await s3.send(new GetObjectCommand({ Bucket: 'snapmeta-staging', Key: key })).then((o) => o.Body!.transformToString(), () => undefined);
        return body !== undefined;
      },
      30_000,
      key,
    );
    return JSON.parse(body!);
  }
});
