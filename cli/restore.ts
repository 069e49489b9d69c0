// snapmeta restore <dir>/metadata/<id> --identity <key.txt> --to <restored.db>
import { createReadStream } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SnapmetaError } from '../lib/core/errors.ts';
import { decodeManifest } from '../lib/core/manifest.ts';
import { restoreExport } from '../lib/pipeline/restore.ts';
import { formatMs, table } from './report.ts';
import { parseCommand, required, type CommandSpec, type Options } from './args.ts';

const HELP = `usage: snapmeta restore <dir>/metadata/<id> --identity <key.txt> --to <restored.db>

Decrypts and decompresses db.zst.age, loads it into a new SQLite file, and checks
it against manifest.json.zst (hash, integrity_check, rows per table).`;

const SPEC = {
  name: 'restore',
  help: HELP,
  positionals: ['<dir>/metadata/<id>'],
  options: {
    identity: { type: 'string', short: 'i', multiple: true, default: [] },
    to: { type: 'string' },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values, positionals } = args;
  const to = required(values.to, '--to <restored.db>');
  if (values.identity.length === 0) throw new SnapmetaError('BAD_ARGUMENT', '--identity <key.txt> is required');
  const dir = positionals[0];
  const readOrFail = (path: string) => readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new SnapmetaError('BAD_ARGUMENT', `cannot read ${path}: ${err.code ?? err.message}`);
  });
  const identities = (await Promise.all(values.identity.map(readOrFail)))
    .flatMap((b) => b.toString('utf8').split('\n'))
    .map((l) => l.trim())
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (identities.length === 0) throw new SnapmetaError('BAD_ARGUMENT', 'no AGE-SECRET-KEY-1… line in the identity file');
  const manifest = await decodeManifest(await readOrFail(join(dir, 'manifest.json.zst')));
  const dbPath = join(dir, 'db.zst.age');
  await access(dbPath).catch(() => {
    throw new SnapmetaError('BAD_ARGUMENT', `cannot read ${dbPath}`);
  });
  if (await access(to).then(() => true, () => false)) throw new SnapmetaError('BAD_ARGUMENT', `${to} exists; restore never overwrites`);
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
