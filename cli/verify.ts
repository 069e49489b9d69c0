// snapmeta verify <bucket-or-dir> <snapshot-id>: proves a backup restorable
// from where it lives, for a cron job: every blob the manifest names exists at
// its size, and with --identity the metadata decrypts, decompresses, loads and
// passes integrity_check with the manifest's row counts.
import { basename, dirname } from 'node:path';
import { isSnapmetaError } from '../lib/core/errors.ts';
import { defaultBlobPrefix, METADATA_FOLDER } from '../lib/core/keys.ts';
import type { Manifest } from '../lib/core/manifest.ts';
import { restoreExport } from '../lib/pipeline/restore.ts';
import { checkBlobs, checkBlobsInStore, type BlobCheck } from '../lib/service/blob-check.ts';
import { DirStore } from '../lib/stores/dir-store.ts';
import { ENDPOINT_HELP } from './aws.ts';
import { openDb, openExportLocation, readManifest, type ExportLocation } from './export-location.ts';
import { formatMs, table } from './report.ts';
import { parseCommand, type CommandSpec, type Options } from './args.ts';
import { IDENTITY_HINT, IDENTITY_OPTION, readIdentityFiles } from './restore.ts';

export const EXIT_BLOBS_MISSING = 3;
export const EXIT_METADATA_BROKEN = 4;

const HELP = `usage: snapmeta verify <s3://bucket[/prefix]|dir> <snapshot-id> [--identity <key.txt>] [--blob-prefix <p>] [--endpoint <url>]

Checks that every blob the snapshot's manifest names exists, at its compressed size
where the index recorded one (<prefix>blobs/<h[0:2]>/<h[2:4]>/<h>, vaultik's layout),
and with --identity that its metadata restores (decrypt, decompress, load,
integrity_check, rows per table against the manifest). Finds the snapshot under
either key scheme.
  --identity <file>    an age identity file; repeatable
  --blob-prefix <p>    where the blobs are (default: <prefix>blobs/)
${ENDPOINT_HELP}
Exit status: 0 all good; ${EXIT_BLOBS_MISSING} blobs missing or of another size; ${EXIT_METADATA_BROKEN} the metadata does not restore;
1 anything else (not found, unreachable); 2 a malformed command line.`;

const SPEC = {
  name: 'verify',
  help: HELP,
  positionals: ['<bucket-or-dir>', '<snapshot-id>'],
  keyHints: IDENTITY_HINT,
  options: {
    ...IDENTITY_OPTION,
    'blob-prefix': { type: 'string' },
    endpoint: { type: 'string' },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values, positionals } = args;
  const identities = await readIdentityFiles(values.identity);
  const location = await openExportLocation(positionals[0], positionals[1], values.endpoint);
  try {
    const manifest = await readManifest(location);
    const blobs = await blobsOf(location, manifest, values['blob-prefix']);
    const restored = identities.length ? await restoresFrom(location, manifest, identities) : undefined;
    printReport(positionals[1], location, manifest, blobs, restored);
    if (restored && !restored.ok) return EXIT_METADATA_BROKEN;
    return blobs && (blobs.missing || blobs.sizeMismatches) ? EXIT_BLOBS_MISSING : 0;
  } finally {
    location.close();
  }
}

/** The blob check where the export is: the bucket, or a directory laid out as one. */
async function blobsOf(location: ExportLocation, manifest: Manifest, blobPrefix?: string): Promise<BlobCheck | undefined> {
  const opts = { blobs: manifest.blobs, sizes: manifest.blob_sizes };
  if (location.bucket) {
    const { s3, name, prefix } = location.bucket;
    return checkBlobs({ s3, bucket: name, blobPrefix: blobPrefix ?? defaultBlobPrefix(prefix), ...opts });
  }
  // A folder <root>/metadata/<key>: the blobs are under <root>, as in the bucket.
  const parent = dirname(location.where);
  if (basename(parent) !== METADATA_FOLDER && blobPrefix === undefined) return undefined;
  return checkBlobsInStore(new DirStore(dirname(parent)), { blobPrefix: blobPrefix ?? defaultBlobPrefix(''), ...opts });
}

async function restoresFrom(location: ExportLocation, manifest: Manifest, identities: string[]) {
  const t0 = performance.now();
  try {
    const result = await restoreExport({ manifest, db: await openDb(location), identities });
    return { ok: true as const, rows: result.rows, ms: performance.now() - t0 };
  } catch (err) {
    if (!isSnapmetaError(err)) throw err;
    return { ok: false as const, error: `${err.code}: ${err.message}` };
  }
}

function printReport(id: string, location: ExportLocation, manifest: Manifest, blobs: BlobCheck | undefined, restored: Awaited<ReturnType<typeof restoresFrom>> | undefined) {
  const rows: [string, string][] = [['manifest', `${location.where}  ${manifest.blob_count} blobs, ${manifest.db.format}, published ${manifest.timestamp}`]];
  if (!blobs) rows.push(['blobs', 'not checked: no blobs/ beside this folder (pass --blob-prefix, or the bucket)']);
  else rows.push(['blobs', blobsLine(blobs)]);
  for (const hash of blobs?.missingSample ?? []) rows.push(['missing', hash]);
  for (const m of blobs?.mismatchSample ?? []) rows.push(['size', `${m.blob}: ${m.found} bytes, the index says ${m.expected}`]);
  if (!restored) rows.push(['metadata', 'not restored (give --identity to prove it restores)']);
  else if (restored.ok) rows.push(['metadata', `restores: integrity ok, hash and rows match the manifest (${Object.values(restored.rows).reduce((a, b) => a + b, 0)} rows, ${formatMs(restored.ms)})`]);
  else rows.push(['metadata', `DOES NOT RESTORE: ${restored.error}`]);
  const good = (!blobs || (!blobs.missing && !blobs.sizeMismatches)) && (!restored || restored.ok);
  console.log(`${good ? 'verified' : 'FAILED'}: snapshot ${id}`);
  console.log(table(rows));
}

function blobsLine(check: BlobCheck): string {
  const problems = [check.missing && `${check.missing} MISSING`, check.sizeMismatches && `${check.sizeMismatches} of another size`].filter(Boolean);
  const how = `${check.requests} requests (${check.method}), ${formatMs(check.durationMs)}`;
  return `${check.checked} checked, ${problems.length ? problems.join(', ') : 'all present'}; ${how}`;
}
