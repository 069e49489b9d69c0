// The staging bucket an operator's command reads (receipts, failure notes): from
// --bucket, $SNAPMETA_STAGING_BUCKET, or the local stack's when the endpoint is one.
import { SnapmetaError } from '../lib/core/errors.ts';
import { LOCAL_NAMES } from '../lib/service/settings.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { givenOrDefault, s3For } from './aws.ts';

export const BUCKET_HELP = `  --bucket <name>      the staging bucket (default: $SNAPMETA_STAGING_BUCKET; the local stack's with a loopback --endpoint)`;

export function stagingBucket(bucket: string | undefined, endpoint: string | undefined): string {
  const name = givenOrDefault(bucket, process.env.SNAPMETA_STAGING_BUCKET, LOCAL_NAMES.stagingBucket, endpoint);
  if (!name) throw new SnapmetaError('BAD_ARGUMENT', '--bucket <staging bucket> is required (the stack output StagingBucketName), or set SNAPMETA_STAGING_BUCKET');
  return name;
}

/** The options of a command that reads the staging bucket. */
export const STAGING_OPTIONS = { bucket: { type: 'string' }, endpoint: { type: 'string' } } as const;

/** The staging bucket and a client for it, for as long as `work` runs. */
export async function withStaging<T>(values: { bucket?: string; endpoint?: string }, work: (s3: S3Client, bucket: string) => Promise<T>): Promise<T> {
  const bucket = stagingBucket(values.bucket, values.endpoint);
  const s3 = s3For(values.endpoint);
  try {
    return await work(s3, bucket);
  } finally {
    s3.destroy();
  }
}
