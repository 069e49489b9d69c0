// snapmeta restore <export> [<snapshot-id>] --identity <key.txt> --to <restored.db>
import { createReadStream } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SnapmetaError } from '../lib/core/errors.ts';
import { DB_FILE, MANIFEST_FILE } from '../lib/core/keys.ts';
import { decodeManifest } from '../lib/core/manifest.ts';
import { restoreExport } from '../lib/pipeline/restore.ts';
import { formatMs, table } from './report.ts';
import { parseCommand, required, type CommandSpec, type Options } from './args.ts';
import { EXPORT_FORMS, locateExport } from './locate-export.ts';

const HELP = `usage: snapmeta restore <export> [<snapshot-id>] --identity <key.txt> --to <restored.db>

Decrypts and decompresses db.zst.age, loads it into a new SQLite file, and checks
it against manifest.json.zst (hash, integrity_check, rows per table).
${EXPORT_FORMS}
  --identity <file>  an age identity file (what age-keygen -o writes); repeatable
  --to <file>        the SQLite file to create (never overwritten)`;

const SPEC = {
  name: 'restore',
  help: HELP,
  positionals: ['<export>', '[<snapshot-id>]'],
  keyHints: { identity: 'pass the path of the identity file instead (--identity key.txt)' },
  options: {
    identity: { type: 'string', short: 'i', multiple: true, default: [] },
    to: { type: 'string' },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values, positionals } = args;
  const to = required(values.to, '--to <restored.db>', 'the SQLite file to create');
  if (values.identity.length === 0) throw new SnapmetaError('BAD_ARGUMENT', '--identity <key.txt> is required: the age identity file the export was encrypted to');
  const dir = await locateExport(positionals[0], positionals[1]);
  const identities = (await Promise.all(values.identity.map(readIdentities))).flat();
  const manifest = await decodeManifest(await readOrFail(join(dir, MANIFEST_FILE)));
  const dbPath = join(dir, DB_FILE);
  await access(dbPath).catch(() => {
    throw new SnapmetaError('BAD_ARGUMENT', `cannot read ${dbPath}: the export is incomplete (its manifest is there); copy the whole folder`);
  });
  if (await access(to).then(() => true, () => false)) throw new SnapmetaError('BAD_ARGUMENT', `${to} exists; restore never overwrites: pass a new path to --to`);
  const t0 = performance.now();
  const result = await restoreExport({
    manifest,
    db: Readable.toWeb(createReadStream(dbPath)) as unknown as ReadableStream<Uint8Array>,
    identities,
  });
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
