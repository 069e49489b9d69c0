// The staging bucket an operator's command reads (receipts, failure notes): from
// --bucket, $SNAPMETA_STAGING_BUCKET, or the local stack's when the endpoint is one.
import { SnapmetaError } from '../lib/core/errors.ts';
import { LOCAL_NAMES } from '../lib/service/settings.ts';
import { isLoopback } from './aws.ts';

export const BUCKET_HELP = `  --bucket <name>      the staging bucket (default: $SNAPMETA_STAGING_BUCKET; the local stack's with a loopback --endpoint)`;

export function stagingBucket(bucket: string | undefined, endpoint: string | undefined): string {
  const name = bucket ?? (process.env.SNAPMETA_STAGING_BUCKET || (endpoint && isLoopback(endpoint) ? LOCAL_NAMES.stagingBucket : undefined));
  if (!name) throw new SnapmetaError('BAD_ARGUMENT', '--bucket <staging bucket> is required (the stack output StagingBucketName), or set SNAPMETA_STAGING_BUCKET');
  return name;
}
