// snapmeta restore <export> [<snapshot-id>] --identity <key.txt> --to <restored.db>
import { access, readFile, writeFile } from 'node:fs/promises';
import { SnapmetaError } from '../lib/core/errors.ts';
import type { Manifest } from '../lib/core/manifest.ts';
import { restoreExport, type RestoreResult } from '../lib/pipeline/restore.ts';
import { ENDPOINT_HELP } from './aws.ts';
import { openDb, openExportLocation, readManifest } from './export-location.ts';
import { formatMs, table } from './report.ts';
import { parseCommand, required, type CommandSpec, type Options } from './args.ts';
import { EXPORT_FORMS } from './locate-export.ts';

const HELP = `usage: snapmeta restore <export> [<snapshot-id>] --identity <key.txt> --to <restored.db>

Decrypts and decompresses db.zst.age, loads it into a new SQLite file, and checks
it against manifest.json.zst (hash, integrity_check, rows per table).
${EXPORT_FORMS}
  --identity <file>  an age identity file (what age-keygen -o writes); repeatable
  --to <file>        the SQLite file to create (never overwritten)
${ENDPOINT_HELP}`;

/** --identity <file>, repeatable, as restore and verify take it; a key itself is refused (cli/args.ts). */
export const IDENTITY_OPTION = {
  identity: { type: 'string' as const, short: 'i', multiple: true as const, default: [] as string[] },
};
export const IDENTITY_HINT = { identity: 'pass the path of the identity file instead (--identity key.txt)' };

const SPEC = {
  name: 'restore',
  help: HELP,
  positionals: ['<export>', '[<snapshot-id>]'],
  keyHints: IDENTITY_HINT,
  options: {
    ...IDENTITY_OPTION,
    to: { type: 'string' },
    endpoint: { type: 'string' },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values, positionals } = args;
  const to = required(values.to, '--to <restored.db>', 'the SQLite file to create');
  if (values.identity.length === 0) throw new SnapmetaError('BAD_ARGUMENT', '--identity <key.txt> is required: the age identity file the export was encrypted to');
  const identities = await readIdentityFiles(values.identity);
  if (await access(to).then(() => true, () => false)) throw new SnapmetaError('BAD_ARGUMENT', `${to} exists; restore never overwrites: pass a new path to --to`);
  const location = await openExportLocation(positionals[0], positionals[1], values.endpoint);
  const t0 = performance.now();
  let manifest: Manifest;
  let result: RestoreResult;
  try {
    manifest = await readManifest(location);
    result = await restoreExport({ manifest, db: await openDb(location), identities });
  } finally {
    location.close();
  }
  await writeFile(to, result.image, { flag: 'wx' });
  console.log(`restored snapshot ${manifest.snapshot_id} to ${to}: integrity ok, hash and row counts match the manifest`);
  console.log(table([
    ['format', result.format],
    ['rows', Object.entries(result.rows).map(([t, n]) => `${t} ${n}`).join(', ')],
    ['blobs', `${manifest.blob_count} in the manifest`],
    ['time', formatMs(performance.now() - t0)],
  ]));
  return 0;
}

const readOrFail = (path: string) => readFile(path).catch((err: NodeJS.ErrnoException) => {
  throw new SnapmetaError('BAD_ARGUMENT', `cannot read ${path}: ${err.code ?? err.message}`);
});

/** The identities of every --identity file. */
export async function readIdentityFiles(files: string[]): Promise<string[]> {
  return (await Promise.all(files.map(readIdentities))).flat();
}

/** The AGE-SECRET-KEY-1… lines of an identity file; other files are named for what they are. */
async function readIdentities(file: string): Promise<string[]> {
  const text = (await readOrFail(file)).toString('utf8');
  const lines = text.split('\n').map((l) => l.trim());
  const identities = lines.filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (identities.length > 0) return identities;
  const is = `${file} holds no age identity (no AGE-SECRET-KEY-… line)`;
  if (lines.some((l) => /^age1/.test(l))) throw new SnapmetaError('BAD_ARGUMENT', `${is}: it is a recipients file (public keys); pass the identity file age-keygen -o wrote`);
  if (/^(age-encryption\.org\/|-----BEGIN AGE ENCRYPTED FILE-----)/.test(text)) {
    throw new SnapmetaError('BAD_ARGUMENT', `${is}: it is passphrase-protected; decrypt it first (age -d -o key.txt ${file}) and pass key.txt`);
  }
  throw new SnapmetaError('BAD_ARGUMENT', `${is}; pass the identity file age-keygen -o wrote`);
}
