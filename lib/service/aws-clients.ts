// The one place AWS clients (S3, SQS, SSM) are built, so the Lambda, the local stack
// and `snapmeta upload` reach the same endpoints the same way.
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { parseBoolean } from './env.ts';

export interface AwsConnection {
  /** Unset: the SDK's own chain (AWS_REGION, ~/.aws/config). */
  region?: string;
  /** Unset: AWS itself. */
  endpoint?: string;
  /** Bucket in the path rather than the host name, for S3-compatible servers. */
  forcePathStyle?: boolean;
  /** Unset: the SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Connection settings from the standard AWS variables (AWS_REGION,
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL) plus SNAPMETA_S3_FORCE_PATH_STYLE,
 * which the SDK has no variable for.
 */
export function connectionFromEnv(service: 'S3' | 'SQS' | 'SSM', env: NodeJS.ProcessEnv = process.env): AwsConnection {
  return {
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    // Passed explicitly: the SQS client otherwise sends to the queue URL's host.
    endpoint: env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined,
    forcePathStyle: parseBoolean('SNAPMETA_S3_FORCE_PATH_STYLE', env.SNAPMETA_S3_FORCE_PATH_STYLE, false),
  };
}

/** A local S3/SQS server (fauxqs) accepts any credentials; fixed ones keep a developer's real keys out of it. */
export function localConnection(endpoint: string): AwsConnection {
  return {
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'snapmeta-local', secretAccessKey: 'snapmeta-local' },
  };
}

export function createS3Client(conn: AwsConnection): S3Client {
  return new S3Client({ ...definedOnly(conn) });
}

export function createSqsClient(conn: AwsConnection): SQSClient {
  const { forcePathStyle: _, ...rest } = conn;
  return new SQSClient({ ...definedOnly(rest) });
}

export function createSsmClient(conn: AwsConnection): SSMClient {
  const { forcePathStyle: _, ...rest } = conn;
  return new SSMClient({ ...definedOnly(rest) });
}

// An explicit `undefined` would override the SDK's own defaults.
function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
