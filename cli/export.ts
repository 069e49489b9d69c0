// snapmeta export <index.db|index.db.zst> --snapshot <id> --recipient <age1…> …
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DirStore } from '../lib/stores/dir-store.ts';
import { SnapmetaError } from '../lib/core/errors.ts';
import { openExport, type ExportJob } from '../lib/pipeline/open-export.ts';
import { readIndexFile } from './read-index.ts';
import { publishExport, type PublishResult } from '../lib/pipeline/publish.ts';
import { loadSqlJs } from '../lib/core/sqlite.ts';
import { identityFileGiven, parseRecipients } from '../lib/core/recipients.ts';
import { holdsIdentity } from '../lib/core/secrets.ts';
import { formatBytes, formatMs, progress, table } from './report.ts';
import { choice, parseCommand, required, wholeNumber, type CommandSpec, type Options } from './args.ts';
import { KEY_SCHEMES } from '../lib/core/keys.ts';
import { DB_FORMATS } from '../lib/core/manifest.ts';

const HELP = `usage: snapmeta export <index.db|index.db.zst> --snapshot <id> --recipient <age1…> [--recipient …]
                       [--recipients-file <file>] [--out <dir>] [--format sql|sqlite] [--key-scheme plain|hashed] [--level <n>]

Writes <dir>/metadata/<id>/db.zst.age and <dir>/metadata/<id>/manifest.json.zst (default dir: .).
  --format sql     SQL text like 'sqlite3 .dump' (default); sqlite: a binary SQLite image
  --key-scheme     plain: metadata/<id>/ (default); hashed: metadata/<sha256(sha256("vaultik|"+id))>/
  --level <n>      zstd level 1-19 (default 3)`;

const SPEC = {
  name: 'export',
  help: HELP,
  positionals: ['<index.db>'],
  keyHints: { recipient: 'give its public key instead (age-keygen -y <identity file> prints it)' },
  options: {
    snapshot: { type: 'string' },
    recipient: { type: 'string', multiple: true, default: [] },
    'recipients-file': { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: '.' },
    format: { type: 'string' },
    'key-scheme': { type: 'string' },
    level: { type: 'string', default: '3' },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values, positionals } = args;
  const format = choice('--format', values.format, DB_FORMATS, 'sql');
  const keyScheme = choice('--key-scheme', values['key-scheme'], KEY_SCHEMES, 'plain');
  const snapshotId = required(values.snapshot, '--snapshot <id>');
  const level = wholeNumber('--level', values.level, 1, 19);
  const recipients = await readRecipients(values.recipient, values['recipients-file']);

  const path = positionals[0];
  // Compile SQLite's WASM on V8's background threads while the file is read;
  // openExport awaits the same promise, and reports its error if it fails.
  loadSqlJs().catch(() => {});
  const t0 = performance.now();
  const { bytes: input, sha256 } = await readIndex(path);
  const read = performance.now() - t0;
  const job = await openExport(input, { snapshotId }).catch((err: unknown) => {
    throw notSqliteHint(err, path, input);
  });
  const bar = progress();
  try {
    const out = resolve(values.out);
    const result = await publishExport(job, new DirStore(out), {
      recipients,
      format,
      keyScheme,
      level,
      source: { sha256, size: input.byteLength },
      onProgress: (p) => bar.update(p.stage, p.done, p.total),
    });
    bar.done();
    printReport(out, job, result, { total: performance.now() - t0, read });
    return 0;
  } finally {
    bar.done();
    job.close();
  }
}

async function readIndex(path: string) {
  return readIndexFile(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'EISDIR' || err.code === 'EACCES') throw new SnapmetaError('BAD_ARGUMENT', `cannot read ${path}: ${err.code}; ${PASS_INDEX}`);
    throw err;
  });
}

function printReport(out: string, job: ExportJob, result: PublishResult, time: { total: number; read: number }): void {
  const stages = { read: time.read, ...result.timings };
  const sqliteSize = job.indexBytes !== job.bytesIn ? ` (${formatBytes(job.indexBytes)} SQLite)` : '';
  console.log(`${result.status === 'duplicate' ? 'already exported (same source)' : 'exported'} snapshot ${result.snapshotId} (${result.layout}, host ${result.hostname})`);
  console.log(table([
    ['database', `${out}/${result.dbKey}  ${formatBytes(result.db.size)}  sha256 ${result.db.sha256.slice(0, 16)}…`],
    ['manifest', `${out}/${result.manifestKey}  ${result.blobCount} blobs`],
    ['bytes', `${formatBytes(job.bytesIn)} in${sqliteSize} → ${formatBytes(result.db.size + result.manifestSize)} out`],
    ['rows kept', Object.entries(result.rows).map(([table, rows]) => `${table} ${rows}`).join(', ')],
    ['time', `${formatMs(time.total)} (${Object.entries(stages).map(([stage, ms]) => `${stage} ${formatMs(ms)}`).join(', ')})`],
    ...(result.skippedTables.length ? [['not exported', result.skippedTables.join(', ')] as [string, string]] : []),
    ...job.schemaChanges.map((change) => ['schema', change] as [string, string]),
    ...result.warnings.map((warning) => ['warning', warning] as [string, string]),
  ]));
}

const PASS_INDEX = "pass the agent's index database (index.db, or index.db.zst); none yet? 'snapmeta sample index.db' writes one";

/** NOT_SQLITE says what was given and what to pass instead; other errors pass through. */
function notSqliteHint(err: unknown, path: string, input: Uint8Array): unknown {
  if (!(err instanceof SnapmetaError) || err.code !== 'NOT_SQLITE') return err;
  const head = Buffer.from(input.subarray(0, 64)).toString('latin1');
  const what = head.startsWith('age-encryption.org/') ? "it is age-encrypted (an export's db.zst.age?)" : err.message;
  return new SnapmetaError('NOT_SQLITE', `${path}: ${what}; ${PASS_INDEX}`, { cause: err });
}

/** --recipient values and --recipients-file contents; an identity file given as one is named, never echoed. */
async function readRecipients(given: string[], files: string[]): Promise<string[]> {
  const texts = await Promise.all(files.map(async (file) => {
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new SnapmetaError('BAD_ARGUMENT', `cannot read recipients file ${file}: ${err.code ?? err.message}`);
    });
    if (holdsIdentity(text)) throw identityFileGiven(file);
    return text;
  }));
  return parseRecipients([...given, ...texts], {
    howToGive: 'pass --recipient age1… or --recipients-file <file> (age-keygen -y key.txt prints the public key of key.txt)',
  });
}
