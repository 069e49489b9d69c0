// snapmeta ls: published snapshots, newest first, from the receipts in the
// staging bucket (they name the host and the human id under either key scheme).
import { listReceipts, readReceipts } from '../lib/service/fleet.ts';
import { ENDPOINT_HELP } from './aws.ts';
import { columns, formatAge, formatBytes, formatTime } from './report.ts';
import { parseCommand, wholeNumber, type CommandSpec, type Options } from './args.ts';
import { BUCKET_HELP, STAGING_OPTIONS, withStaging } from './staging.ts';

const HELP = `usage: snapmeta ls [--host <host>] [--limit <n>] [--bucket <name>] [--endpoint <url>]

Published snapshots, newest first: host, snapshot id, when, how old, the size of
db.zst.age and the blob count, from the receipts in the staging bucket (receipts
expire with the bucket's lifecycle, 30 days by default).
  --host <host>        only this host (as in incoming/<host>/)
  --limit <n>          at most this many (default 20)
${BUCKET_HELP}
${ENDPOINT_HELP}`;

const SPEC = {
  name: 'ls',
  help: HELP,
  options: {
    host: { type: 'string' },
    limit: { type: 'string', default: '20' },
    ...STAGING_OPTIONS,
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values } = args;
  const limit = wholeNumber('--limit', values.limit, 1, 10_000);
  return withStaging(values, async (s3, bucket) => {
    const entries = (await listReceipts(s3, bucket, 'processed', values.host)).sort((a, b) => b.at.getTime() - a.at.getTime());
    const shown = entries.slice(0, limit);
    const receipts = await readReceipts(s3, bucket, shown);
    const now = Date.now();
    const rows = shown.map((entry, i) => [
      entry.host,
      entry.snapshotId,
      formatTime(entry.at),
      formatAge(now - entry.at.getTime()),
      formatBytes(receipts[i].outputs?.db.size ?? 0),
      String(receipts[i].blob_count ?? ''),
    ]);
    console.log(columns(['host', 'snapshot', 'published', 'age', 'db', 'blobs'], rows));
    console.log(`${shown.length} of ${entries.length} published snapshot${entries.length === 1 ? '' : 's'}${values.host ? ` of ${values.host}` : ''} in s3://${bucket}`);
    return 0;
  });
}
