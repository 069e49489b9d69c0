// snapmeta sample <out.db>: a realistic index to try the other commands on,
// for whoever has no backup agent's index at hand.
import { writeFile } from 'node:fs/promises';
import { SnapmetaError } from '../lib/core/errors.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../lib/sample/sample-index.ts';
import { LAYOUT_NAMES, type LayoutShortName } from '../lib/core/layout.ts';
import { formatBytes } from './report.ts';
import { choice, parseCommand, wholeNumber, type CommandSpec, type Options } from './args.ts';

// Built in memory by sql.js: about 5 KiB per file, so this keeps it under ~100 MiB.
const MAX_FILES = 20_000;
const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;

const HELP = `usage: snapmeta sample <out.db> [--layout v1|v2] [--files <n>] [--snapshots <k>]
                       [--host <hostname>] [--name <snapshot name>]

Writes a realistic backup index (what an agent uploads) with k daily snapshots
of n files each, named as vaultik names them: <short host>_<name>_<UTC time>.
  --layout v1|v2    v1 path-keyed or v2 id-keyed (default v2)
  --files <n>       files per snapshot, 1..${MAX_FILES} (default 200)
  --snapshots <k>   1..1000 (default 3)
  --host <name>     the backed-up host (default web1.example.com)
  --name <name>     the snapshot name (default home)`;

const SPEC = {
  name: 'sample',
  help: HELP,
  positionals: ['<out.db>'],
  options: {
    layout: { type: 'string', default: 'v2' },
    files: { type: 'string', default: '200' },
    snapshots: { type: 'string', default: '3' },
    host: { type: 'string', default: 'web1.example.com' },
    name: { type: 'string', default: 'home' },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values, positionals } = args;
  const out = positionals[0];
  const opts = sampleOptions(values);
  const ids = sampleSnapshotIds(opts);
  const bytes = await sampleIndex(opts);
  await writeFile(out, bytes, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === 'EEXIST' ? 'it exists; sample never overwrites: pass a new path' : err.code ?? err.message;
    throw new SnapmetaError('BAD_ARGUMENT', `cannot write ${out}: ${why}`);
  });
  const layout = LAYOUT_NAMES[opts.layout];
  console.log(`wrote ${out}: a ${layout} sample index of ${opts.hostname}, ${ids.length} snapshot${ids.length === 1 ? '' : 's'} of ${opts.filesPerSnapshot} files (${formatBytes(bytes.byteLength)})`);
  console.log('snapshots, oldest first:');
  for (const id of ids) console.log(`  ${id}`);
  console.log('export the latest, encrypted to the age key in key.txt (age-keygen -o key.txt makes one):');
  console.log(`  npx snapmeta export ${out} --snapshot ${ids.at(-1)} --recipient "$(age-keygen -y key.txt)" --out backup`);
  return 0;
}

function sampleOptions(values: { layout: string; files: string; snapshots: string; host: string; name: string }): SampleIndexOptions & { layout: LayoutShortName; hostname: string } {
  if (!HOSTNAME.test(values.host)) throw new SnapmetaError('BAD_ARGUMENT', `--host must be a hostname (letters, digits, '.' and '-'), not ${JSON.stringify(values.host)}`);
  const options = {
    layout: choice('--layout', values.layout, Object.keys(LAYOUT_NAMES) as LayoutShortName[], 'v2'),
    hostname: values.host,
    snapshotName: values.name,
    filesPerSnapshot: wholeNumber('--files', values.files, 1, MAX_FILES),
    snapshots: wholeNumber('--snapshots', values.snapshots, 1, 1000),
  };
  try {
    sampleSnapshotIds(options);
  } catch (err) {
    // The generator's own check of the name, as a usage error.
    throw new SnapmetaError('BAD_ARGUMENT', `--name: ${(err as Error).message}`);
  }
  return options;
}
