// snapmeta local (`npm start`): the whole pipeline on this machine, as a new
// user first meets it. Starts the local stack on 127.0.0.1, uploads a demo
// index as an agent would, shows the export arriving and how to restore it,
// then keeps serving with a compact live status until Ctrl-C.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { DEFAULT_FUNCTION, LOCAL_NAMES, QUEUE } from '../lib/service/settings.ts';
import { SnapmetaError } from '../lib/core/errors.ts';
import { KEY_SCHEMES, parseStagingKey, stagingKey } from '../lib/core/keys.ts';
import { DB_FORMATS } from '../lib/core/manifest.ts';
import { parseBoolean } from '../lib/service/env.ts';
import { parseRecipients } from '../lib/core/recipients.ts';
import { createS3Client, localConnection } from '../lib/service/aws-clients.ts';
import { S3MetadataStore } from '../lib/stores/s3-store.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../lib/sample/sample-index.ts';
import { ensureDevIdentity } from '../local/dev-identity.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions, type ReceiptSeen, type StackStatus } from '../local/stack.ts';
import { StreamLogger } from '../local/stream-logger.ts';
import { formatBytes } from './report.ts';
import { choice, parseCommand, wholeNumber, type CommandSpec, type Options } from './args.ts';
import { uploadIndex } from './upload.ts';

const HELP = `usage: snapmeta local [--port <n>] [--no-demo] [--verbose]

Runs S3 + SQS (fauxqs) on 127.0.0.1, the staging and backup buckets, the queue and
its DLQ, and the export Lambda's handler behind an SQS poller, as deployed.
  --port <n>   default: $SNAPMETA_PORT or 4566; 0 picks a free port
  --no-demo    do not upload the demo index at start
  --verbose    the handler's JSON logs on stdout (default: .snapmeta/local.log)
  --format sql|sqlite       what db.zst.age holds (default: $SNAPMETA_FORMAT or sql)
  --key-scheme plain|hashed metadata/<id>/ or metadata/<hash of id>/ (default: $SNAPMETA_KEY_SCHEME or plain)
  --allow-unnamed-ids       publish snapshot ids that name no host (one-host deployments)
Recipients: $SNAPMETA_AGE_RECIPIENTS, or a development identity kept in
.snapmeta/dev-identity.txt. Ctrl-C, SIGINT or SIGTERM stops everything and frees
the port; another one 2 s later stops at once.`;

const STATE_DIR = '.snapmeta';
const DEMO_HOST = 'demo';
const DEMO_INDEX: SampleIndexOptions = { layout: 'v2', hostname: 'demo.example.com', snapshots: 3 };
const STATUS_INTERVAL_MS = 1000;
const FORCE_STOP_AFTER_MS = 2000;

const SPEC = {
  name: 'local',
  help: HELP,
  options: {
    port: { type: 'string' },
    'no-demo': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    format: { type: 'string' },
    'key-scheme': { type: 'string' },
    'allow-unnamed-ids': { type: 'boolean', default: false },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values } = args;
  const port = wholeNumber(values.port === undefined ? 'SNAPMETA_PORT' : '--port', values.port ?? process.env.SNAPMETA_PORT ?? '4566', 0, 65535);
  const choices = exportChoices(values);
  const state = join(process.cwd(), STATE_DIR);
  await mkdir(state, { recursive: true, mode: 0o700 });
  const keys = await recipients(state);
  const logs = handlerLogs(state, values.verbose);
  const stack = await startOn(port, { recipients: keys.recipients, logger: logs.logger, ...choices }).catch((err) => {
    logs.end();
    throw err;
  });

  const status = new StatusLine();
  const rel = (path: string) => relative(process.cwd(), path) || '.';
  printBanner(stack.endpoint, keys, choices, logs.file ? rel(logs.file) : 'stdout', rel);
  const demo = values['no-demo'] ? undefined : startDemo(stack, state, status);
  stack.onReceipt((seen) => {
    void showReceipt(stack, seen, join(state, 'backups'), keys.identity, rel).then(
      (lines) => status.print([...lines, ...(demo?.recognise(seen) ?? [])]),
      (err) => status.print([`could not read the export for ${seen.key}: ${(err as Error).message}`]),
    );
  });
  const timer = setInterval(() => void stack.status().then((s) => status.update(formatStatus(s)), () => undefined), STATUS_INTERVAL_MS);

  await stopRequested();
  clearInterval(timer);
  demo?.stop();
  status.print(['stopping…']);
  await stack.stop();
  logs.end();
  console.log('stopped; port freed');
  return 0;
}

/** The handler's JSON logs: to .snapmeta/local.log, or with --verbose to stdout. EMF metrics are off unless asked for. */
function handlerLogs(state: string, verbose: boolean) {
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  if (verbose) return { logger: new Logger({ serviceName: 'snapmeta-export' }), file: undefined, end: () => {} };
  const file = join(state, 'local.log');
  const stream = createWriteStream(file, { flags: 'a' });
  return { logger: new StreamLogger((line) => stream.write(line), { serviceName: 'snapmeta-export' }), file, end: () => void stream.end() };
}

async function startOn(port: number, options: Omit<LocalStackOptions, 'port'>): Promise<LocalStack> {
  try {
    return await startLocalStack({ port, ...options });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new SnapmetaError('BAD_ARGUMENT', `port ${port} on 127.0.0.1 is in use; pass --port <n> (0: any free port) or stop what holds it`);
    }
    throw err;
  }
}

/**
 * The demo: a sample index uploaded as an agent would, its receipt recognised
 * by the upload id chosen before the upload, and a word if none comes.
 */
function startDemo(stack: LocalStack, state: string, status: StatusLine) {
  const uploadId = randomUUID();
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  uploadDemo(stack.endpoint, state, uploadId).then(
    () => (timer = setTimeout(() => done || status.print(['demo: no receipt within a minute (see the handler logs)']), 60_000)),
    (err) => status.print([`demo upload failed: ${(err as Error).message}`]),
  );
  return {
    recognise({ receipt }: ReceiptSeen): string[] {
      if (receipt.source.upload_id !== uploadId) return [];
      done = true;
      return [`demo: ${receipt.status} snapshot ${receipt.snapshot_id} from s3://${receipt.source.bucket}/${receipt.source.key}`];
    },
    stop: () => clearTimeout(timer),
  };
}

/** The function's output settings, from flags or the same variables the deployed function reads. */
function exportChoices(values: { format?: string; 'key-scheme'?: string; 'allow-unnamed-ids'?: boolean }) {
  return {
    format: choice('--format', values.format ?? (process.env.SNAPMETA_FORMAT || undefined), DB_FORMATS, DEFAULT_FUNCTION.format),
    keyScheme: choice('--key-scheme', values['key-scheme'] ?? (process.env.SNAPMETA_KEY_SCHEME || undefined), KEY_SCHEMES, DEFAULT_FUNCTION.keyScheme),
    allowUnnamedIds: values['allow-unnamed-ids'] || parseBoolean('SNAPMETA_ALLOW_UNNAMED_IDS', process.env.SNAPMETA_ALLOW_UNNAMED_IDS, DEFAULT_FUNCTION.allowUnnamedIds),
  };
}

/** Where everything is, and how to upload: what a newcomer reads first. */
function printBanner(endpoint: string, keys: Awaited<ReturnType<typeof recipients>>, choices: ReturnType<typeof exportChoices>, logs: string, rel: (path: string) => string): void {
  const folder = choices.keyScheme === 'hashed' ? '<hash of snapshot-id>' : '<snapshot-id>';
  const identity = keys.identity ? ` (identity ${rel(keys.identity)}${keys.created ? ', just created' : ''})` : '';
  console.log(`snapmeta local stack: S3 + SQS on ${endpoint} (loopback only)`);
  console.log(`  staging bucket  s3://${LOCAL_NAMES.stagingBucket}  (agents upload incoming/<host>/<snapshot-id>.db or .db.zst)`);
  console.log(`  backup bucket   s3://${LOCAL_NAMES.backupBucket}  (metadata/${folder}/db.zst.age, ${choices.format}, + manifest.json.zst)`);
  console.log(`  queue           ${LOCAL_NAMES.queue}, DLQ ${LOCAL_NAMES.dlq} after ${QUEUE.maxReceiveCount} receives`);
  console.log(`  recipients      ${keys.recipients.join(', ')}${identity}`);
  console.log(`  handler logs    ${logs}`);
  console.log(`upload with:  npx snapmeta upload <index.db> --host <host> --snapshot <id> --endpoint ${endpoint}`);
  console.log(`         or:  aws --endpoint-url ${endpoint} s3 cp <index.db> s3://${LOCAL_NAMES.stagingBucket}/incoming/<host>/<snapshot-id>.db  (any credentials)`);
}

/**
 * Resolves on the first SIGINT or SIGTERM. Ctrl-C in a terminal reaches both
 * npm and this process, and npm forwards its copy: a repeat within a moment is
 * that copy; a later one means "stop now" when stopping hangs.
 */
function stopRequested(): Promise<void> {
  return new Promise((resolve) => {
    let firstAt = 0;
    const onSignal = () => {
      if (firstAt === 0) {
        firstAt = Date.now();
        resolve();
      } else if (Date.now() - firstAt > FORCE_STOP_AFTER_MS) {
        process.exit(130);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function recipients(state: string): Promise<{ recipients: string[]; identity?: string; created?: boolean }> {
  const fromEnv = process.env.SNAPMETA_AGE_RECIPIENTS;
  if (fromEnv) {
    const howToGive = 'set it to age1… public keys (comma- or space-separated), or unset it for the development identity';
    return { recipients: parseRecipients([fromEnv], { from: 'SNAPMETA_AGE_RECIPIENTS', howToGive }) };
  }
  const dev = await ensureDevIdentity(join(state, 'dev-identity.txt'));
  return { recipients: [dev.recipient], identity: dev.path, created: dev.created };
}

/** The demo: a small index of host demo.example.com, uploaded as its agent would. */
async function uploadDemo(endpoint: string, state: string, uploadId: string): Promise<void> {
  const snapshotId = sampleSnapshotIds(DEMO_INDEX).at(-1)!;
  const file = join(state, 'demo', 'index.db');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, await sampleIndex(DEMO_INDEX));
  const s3 = createS3Client(localConnection(endpoint));
  try {
    const staged = parseStagingKey(stagingKey(DEMO_HOST, snapshotId, false))!;
    await uploadIndex(s3, { file, bucket: LOCAL_NAMES.stagingBucket, staged, uploadId });
  } finally {
    s3.destroy();
  }
}

/**
 * A receipt as lines to print. A published export is also copied to
 * .snapmeta/backups/, where `snapmeta restore` reads it.
 */
async function showReceipt(stack: LocalStack, { key, receipt }: ReceiptSeen, mirror: string, identity: string | undefined, rel: (p: string) => string): Promise<string[]> {
  const time = new Date().toTimeString().slice(0, 8);
  if (receipt.status === 'rejected') return [`[${time}] rejected  ${receipt.error?.code}: ${receipt.error?.message}  (${key})`];
  const outputs = receipt.outputs!;
  const dir = join(mirror, dirname(outputs.manifest.key));
  await mkdir(dir, { recursive: true });
  const backup = new S3MetadataStore(stack.s3, outputs.bucket);
  for (const output of [outputs.db.key, outputs.manifest.key]) {
    const bytes = await backup.get(output);
    if (!bytes) throw new Error(`${output} is missing from s3://${outputs.bucket}`);
    await writeFile(join(mirror, output), bytes);
  }
  const rows = Object.values(receipt.rows ?? {}).reduce((a, b) => a + b, 0);
  return [
    `[${time}] ${receipt.status} ${receipt.snapshot_id}: ${rows} rows, ${receipt.blob_count} blobs, db ${formatBytes(outputs.db.size)}  (${key})`,
    `           restore: npx snapmeta restore ${rel(dir)} --identity ${identity ? rel(identity) : '<your age identity>'} --to restored.db`,
  ];
}

function formatStatus(s: StackStatus): string {
  const rejected = Object.entries(s.rejected).map(([code, n]) => `${code} ${n}`).join(', ');
  return [
    `queue ${s.queueDepth}${s.inFlight ? ` (+${s.inFlight} in flight)` : ''}`,
    `dlq ${s.dlqDepth}`,
    `exported ${s.published}`,
    `duplicates ${s.duplicates}`,
    `rejected ${rejected || 0}`,
    `retries ${s.failedInvocations}`,
  ].join(' · ');
}

/** One status line, redrawn in place on a terminal; elsewhere printed when it changes. */
class StatusLine {
  private current = '';
  private readonly tty = Boolean(process.stdout.isTTY);

  update(line: string): void {
    if (line === this.current) return;
    this.current = line;
    if (this.tty) process.stdout.write(`\r\x1b[K${line}`);
    else console.log(`status: ${line}`);
  }

  /** Lines above the status line. */
  print(lines: string[]): void {
    if (this.tty) process.stdout.write('\r\x1b[K');
    for (const line of lines) console.log(line);
    if (this.tty && this.current) process.stdout.write(this.current);
  }
}
