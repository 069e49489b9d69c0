// snapmeta status: every host's newest export and how long ago it was, hosts
// silent for longer than a threshold marked (and the exit status says so, for
// a cron job); the scheduled function publishes the same count as a metric.
import { fleetStatus, silentHosts } from '../lib/service/fleet.ts';
import { SILENT_HOURS } from '../lib/service/settings.ts';
import { ENDPOINT_HELP } from './aws.ts';
import { columns, formatAge, formatTime } from './report.ts';
import { parseCommand, wholeNumber, type CommandSpec, type Options } from './args.ts';
import { BUCKET_HELP, STAGING_OPTIONS, withStaging } from './staging.ts';

export const EXIT_SILENT = 5;

const HELP = `usage: snapmeta status [--silent-hours <h>] [--bucket <name>] [--endpoint <url>]

Each host with a receipt in the staging bucket: its newest export, how old it is,
how many exports and rejections it has, and SILENT when nothing was published for
more than --silent-hours (default ${SILENT_HOURS}).
${BUCKET_HELP}
${ENDPOINT_HELP}
Exit status: 0 no host silent; ${EXIT_SILENT} some host silent; 1 an error; 2 a malformed command line.`;

const SPEC = {
  name: 'status',
  help: HELP,
  options: {
    'silent-hours': { type: 'string', default: String(SILENT_HOURS) },
    ...STAGING_OPTIONS,
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values } = args;
  const hours = wholeNumber('--silent-hours', values['silent-hours'], 1, 24 * 365);
  return withStaging(values, async (s3, bucket) => {
    const now = new Date();
    const fleet = await fleetStatus(s3, bucket, now);
    const silent = new Set(silentHosts(fleet, hours));
    const rows = fleet.map((host) => [
      host.host,
      host.lastPublished ? `${host.lastPublished.snapshotId} (${formatTime(host.lastPublished.at)})` : '(never published)',
      formatAge(host.silentHours * 3_600_000),
      String(host.published),
      host.rejected ? `${host.rejected} (last ${formatTime(host.lastRejected!.at)})` : '0',
      silent.has(host) ? `SILENT > ${hours} h` : 'ok',
    ]);
    console.log(columns(['host', 'newest export', 'age', 'exports', 'rejected', 'state'], rows));
    console.log(`${fleet.length} host${fleet.length === 1 ? '' : 's'}, ${silent.size} silent for more than ${hours} hours (s3://${bucket})`);
    return silent.size ? EXIT_SILENT : 0;
  });
}
