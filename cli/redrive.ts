// snapmeta redrive: send rejected uploads through the export again, after a fix
// (a new setting such as allowUnnamedIds, a new snapmeta). A rejected upload is
// kept in incoming/; copying it onto itself makes S3 announce it again, so it
// takes the same path as any upload, in AWS and in the local stack alike.
import { CopyObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ERROR_CODES, SnapmetaError, type ErrorCode } from '../lib/core/errors.ts';
import { listReceipts, readReceipts } from '../lib/service/fleet.ts';
import type { Receipt } from '../lib/service/receipts.ts';
import { unlessNotFound } from '../lib/stores/s3-store.ts';
import { ENDPOINT_HELP } from './aws.ts';
import { parseCommand, type CommandSpec, type Options } from './args.ts';
import { BUCKET_HELP, STAGING_OPTIONS, withStaging } from './staging.ts';

const HELP = `usage: snapmeta redrive [--host <host>] [--code <CODE>] [--dry-run] [--bucket <name>] [--endpoint <url>]

Sends every rejected upload still in incoming/ through the export again (its
receipt in rejected/ says why it was refused): for after the cause is fixed.
  --host <host>        only this host's uploads
  --code <CODE>        only uploads rejected with this error code (e.g. UNNAMED_SNAPSHOT_ID)
  --dry-run            list them, send nothing
${BUCKET_HELP}
${ENDPOINT_HELP}`;

const SPEC = {
  name: 'redrive',
  help: HELP,
  options: {
    host: { type: 'string' },
    code: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    ...STAGING_OPTIONS,
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values } = args;
  const code = values.code === undefined ? undefined : errorCode(values.code);
  return withStaging(values, async (s3, bucket) => {
    const receipts = (await readReceipts(s3, bucket, await listReceipts(s3, bucket, 'rejected', values.host)))
      .filter((receipt) => !code || receipt.error?.code === code);
    let sent = 0;
    for (const receipt of receipts) {
      const outcome = values['dry-run'] ? 'would send' : await resend(s3, bucket, receipt);
      if (outcome === 'sent' || outcome === 'would send') sent++;
      console.log(`${outcome.padEnd(10)}  s3://${bucket}/${receipt.source.key}  (${receipt.error?.code})`);
    }
    console.log(`${values['dry-run'] ? 'would send' : 'sent'} ${sent} of ${receipts.length} rejected upload${receipts.length === 1 ? '' : 's'} through the export again`);
    return 0;
  });
}

function errorCode(value: string): ErrorCode {
  if (!(ERROR_CODES as readonly string[]).includes(value)) throw new SnapmetaError('BAD_ARGUMENT', `--code must be one of ${ERROR_CODES.join(', ')}`);
  return value as ErrorCode;
}

/** The upload copied onto itself (S3 refuses a copy that changes nothing, so its metadata is restated). */
async function resend(s3: S3Client, bucket: string, receipt: Receipt): Promise<'sent' | 'gone'> {
  const key = receipt.source.key;
  const head = await unlessNotFound(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
  if (!head) return 'gone';
  await s3.send(new CopyObjectCommand({
    Bucket: bucket,
    Key: key,
    CopySource: `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
    MetadataDirective: 'REPLACE',
    Metadata: { ...head.Metadata, 'snapmeta-redriven-at': new Date().toISOString() },
    ContentType: head.ContentType,
  }));
  return 'sent';
}
