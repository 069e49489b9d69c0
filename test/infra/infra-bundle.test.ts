// The Lambda asset as deployed: a real `cdk synth` (offline, cdk-nag on) for
// the default arm64 function, and bundleFunction() for x86_64, each loaded and
// run in a fresh Node process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { BUNDLE_FILE, bundleFunction, PROJECT_ROOT, WASM_FILE, WORKER_FILE } from '../../infra/bundle.ts';

const run = promisify(execFile);
const RECIPIENT = 'age19ez0dm5jsp8gqddyjysd27r58m9zwt42kxh5dg3yclfzl34jt9hs39gj9l';
const SQL_WASM = join(PROJECT_ROOT, 'node_modules', 'sql.js', 'dist', WASM_FILE);

/** ELF e_machine of a native addon: what CPU it was built for. */
function elfMachine(file: string): string {
  const header = readFileSync(file).subarray(0, 20);
  assert.equal(header.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is an ELF binary`);
  const machine = header.readUInt16LE(18);
  return { 62: 'x86_64', 183: 'arm64' }[machine] ?? `e_machine ${machine}`;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/**
 * In a clean Node process outside the project (so nothing resolves from our
 * node_modules): import the bundle, check `handler`, and send it one SQS batch
 * with S3's test event and a message that is not an event at all.
 */
async function invokeBundle(dir: string): Promise<{ handlerType: string; response: unknown }> {
  const script = `
    const { handler } = await import(${JSON.stringify(join(dir, BUNDLE_FILE))});
    const record = (messageId, body) => ({ messageId, body, eventSource: 'aws:sqs', receiptHandle: 'r', attributes: {}, messageAttributes: {}, md5OfBody: '', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q', awsRegion: 'us-east-1' });
    const context = { functionName: 'snapmeta-export', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:snapmeta-export', memoryLimitInMB: '128', awsRequestId: 'test', logGroupName: 'g', logStreamName: 's', getRemainingTimeInMillis: () => 60000, callbackWaitsForEmptyEventLoop: true };
    const response = await handler({ Records: [record('test-event', JSON.stringify({ Event: 's3:TestEvent', Bucket: 'b' })), record('not-an-event', 'garbage')] }, context);
    process.stdout.write('RESULT ' + JSON.stringify({ handlerType: typeof handler, response }) + '\\n');
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      SNAPMETA_AGE_RECIPIENTS: RECIPIENT,
      SNAPMETA_BACKUP_BUCKET: 'backups',
      SNAPMETA_STAGING_BUCKET: 'staging',
    },
  });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `the bundle ran to the end; stdout:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length));
}

const EXPECTED_RESPONSE = { batchItemFailures: [{ itemIdentifier: 'not-an-event' }] };

/**
 * The export worker beside the handler starts in a clean process, SQLite
 * compiled, and says so (execArgv: [], or it would inherit this script's --input-type).
 */
async function startBundledWorker(dir: string): Promise<unknown> {
  const script = `
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(${JSON.stringify(join(dir, WORKER_FILE))}, { workerData: { heapLimitBytes: 64 << 20 }, execArgv: [] });
    const first = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
    await worker.terminate();
    process.stdout.write('RESULT ' + JSON.stringify(first) + '\\n');
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: tmpdir(), env: { PATH: process.env.PATH } });
  return JSON.parse(stdout.split('\n').find((l) => l.startsWith('RESULT '))!.slice('RESULT '.length));
}

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'snapmeta-infra-bundle-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('cdk synth (real CLI, offline)', () => {
  let asset: string;
  let template: any;

  before(async () => {
    const out = join(work, 'cdk.out');
    await run(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '-o', out], {
      cwd: PROJECT_ROOT,
      maxBuffer: 64 << 20,
    });
    template = JSON.parse(readFileSync(join(out, 'Snapmeta.template.json'), 'utf8'));
    const fn = Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Runtime === 'nodejs22.x');
    asset = join(out, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
    const report = JSON.parse(readFileSync(join(out, 'validation-report.json'), 'utf8'));
    assert.deepEqual(report.pluginReports.filter((r: any) => r.conclusion !== 'success'), [], 'cdk-nag found nothing unacknowledged');
  });

  it('synthesizes the arm64 function from the bundle', () => {
    const fn = Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Runtime === 'nodejs22.x');
    assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    assert.equal(fn.Properties.Handler, 'index.handler');
  });

  it('the arm64 asset carries the ESM bundle and the sql.js WASM, and no foreign native binary', () => {
    const files = filesUnder(asset);
    assert.ok(files.includes(BUNDLE_FILE) && files.includes(`${BUNDLE_FILE}.map`));
    assert.deepEqual(readFileSync(join(asset, WASM_FILE)), readFileSync(SQL_WASM));
    // Every native addon in the arm64 asset is an arm64 build. Where npm did not
    // install the arm64 zstd package (any x64 machine) there is none, and the
    // function compresses with Node's built-in zlib zstd (nodejs22.x is Node >= 22.15).
    const addons = files.filter((f) => f.endsWith('.node'));
    for (const addon of addons) assert.equal(elfMachine(join(asset, addon)), 'arm64', addon);
    if (addons.length === 0) {
      assert.deepEqual(files, [WORKER_FILE, `${WORKER_FILE}.map`, BUNDLE_FILE, `${BUNDLE_FILE}.map`, WASM_FILE]);
      assert.match(readFileSync(join(asset, BUNDLE_FILE), 'utf8'), /zstdCompress/, 'the built-in zstd path is bundled');
    }
  });

  it('the arm64 bundle loads in Node and handles a batch', async () => {
    assert.deepEqual(await invokeBundle(asset), { handlerType: 'function', response: EXPECTED_RESPONSE });
  });

  it('the arm64 asset carries the export worker, which starts on its own', async () => {
    assert.ok(filesUnder(asset).includes(WORKER_FILE));
    assert.deepEqual(await startBundledWorker(asset), { kind: 'ready' });
  });
});

describe('bundleFunction x86_64', () => {
  let dir: string;
  before(() => {
    dir = join(work, 'x64');
    const result = bundleFunction({ architecture: 'x86_64', outDir: dir });
    assert.equal(result.zstdPlatformPackage, '@mongodb-js/zstd-linux-x64-gnu');
  });

  it('carries the wasm, the export worker and the x86_64 zstd addon', async () => {
    const files = filesUnder(dir);
    assert.ok(files.includes(WORKER_FILE) && files.includes(`${WORKER_FILE}.map`));
    assert.deepEqual(await startBundledWorker(dir), { kind: 'ready' });
    assert.deepEqual(readFileSync(join(dir, WASM_FILE)), readFileSync(SQL_WASM));
    const addons = files.filter((f) => f.endsWith('.node'));
    assert.deepEqual(addons, ['node_modules/@mongodb-js/zstd-linux-x64-gnu/zstd.linux-x64-gnu.node']);
    assert.equal(elfMachine(join(dir, addons[0])), 'x86_64');
  });

  it("the bundled addon loads from the bundle's own node_modules and writes real zstd", async () => {
    const input = Buffer.from('snapmeta '.repeat(1000));
    const compressed = join(work, 'x64-sample.zst');
    const script = `
      import { createRequire } from 'node:module';
      import { writeFileSync } from 'node:fs';
      const zstd = createRequire(${JSON.stringify(join(dir, BUNDLE_FILE))})('@mongodb-js/zstd');
      writeFileSync(${JSON.stringify(compressed)}, await zstd.compress(Buffer.from(${JSON.stringify(input.toString())}), 3));
    `;
    await run(process.execPath, ['--input-type=module', '-e', script], { cwd: tmpdir() });
    const { stdout } = await run('zstd', ['-d', '-c', compressed], { encoding: 'buffer' });
    assert.deepEqual(stdout, input);
  });

  it('the x86_64 bundle loads in Node and handles a batch', async () => {
    assert.deepEqual(await invokeBundle(dir), { handlerType: 'function', response: EXPECTED_RESPONSE });
  });

  it('is deterministic, so the asset hash changes only with the code', () => {
    const again = join(work, 'x64-again');
    bundleFunction({ architecture: 'x86_64', outDir: again });
    const contents = (root: string) => filesUnder(root).map((f) => [f, readFileSync(join(root, f))]);
    assert.deepEqual(contents(again), contents(dir));
  });
});
