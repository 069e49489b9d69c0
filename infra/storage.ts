// The buckets: staging (agents upload, receipts come back), backup (published
// metadata, created or imported) and the access-log bucket both log to.
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { METADATA_PREFIX, STAGING_OUTPUT_PREFIXES } from '../lib/core/keys.ts';
import { ACCESS_LOGS, NOTIFICATION_FILTER, STAGING } from '../lib/service/settings.ts';

export interface StorageProps {
  backupBucketName: string | undefined;
  backupPrefix: string;
  stagingExpirationDays: number;
}

// Shared by every bucket we create: private, encrypted, TLS 1.2+ only.
const SECURE_BUCKET: s3.BucketProps = {
  encryption: s3.BucketEncryption.S3_MANAGED,
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  enforceSSL: true,
  minimumTLSVersion: 1.2,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
};

export class Storage extends Construct {
  readonly stagingBucket: s3.Bucket;
  readonly backupBucket: s3.IBucket;
  /** Where the function publishes: `<prefix>metadata/`. */
  readonly metadataPrefix: string;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    // Log delivery by bucket policy (AWS's recommendation) rather than ACLs,
    // so every bucket here can keep ACLs disabled.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    this.metadataPrefix = `${props.backupPrefix}${METADATA_PREFIX}`;

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...SECURE_BUCKET,
      lifecycleRules: [{ expiration: Duration.days(ACCESS_LOGS.expirationDays) }],
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself; logging it into itself would loop.',
    });

    const expiry = Duration.days(props.stagingExpirationDays);
    this.stagingBucket = new s3.Bucket(this, 'Staging', {
      ...SECURE_BUCKET,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'staging/',
      lifecycleRules: [NOTIFICATION_FILTER.prefix, ...STAGING_OUTPUT_PREFIXES].map((prefix) => ({
        id: `expire-${prefix.replace(/\/$/, '')}`,
        prefix,
        expiration: expiry,
        noncurrentVersionExpiration: Duration.days(STAGING.noncurrentVersionExpirationDays),
        abortIncompleteMultipartUploadAfter: Duration.days(STAGING.abortIncompleteUploadDays),
      })),
    });

    for (const statement of pinToSseS3(this.stagingBucket.arnForObjects('*'))) this.stagingBucket.addToResourcePolicy(statement);

    if (props.backupBucketName) {
      // An imported bucket keeps its owner's policy: the If-None-Match rule is
      // then enforced on the function's role only (see ExportPipeline).
      this.backupBucket = s3.Bucket.fromBucketName(this, 'Backup', props.backupBucketName);
    } else {
      const backup = new s3.Bucket(this, 'Backup', {
        ...SECURE_BUCKET,
        versioned: true,
        serverAccessLogsBucket: accessLogs,
        serverAccessLogsPrefix: 'backup/',
      });
      backup.addToResourcePolicy(requireIfNoneMatch(backup.arnForObjects(`${this.metadataPrefix}*`), new iam.AnyPrincipal()));
      this.backupBucket = backup;
    }
  }
}

/**
 * Published metadata is immutable: deny object creation under `objects` unless
 * the request carries If-None-Match. Multipart steps before the completion
 * cannot carry it, so s3:ObjectCreationOperation exempts them (AWS's pattern).
 */
export function requireIfNoneMatch(objects: string, principal?: iam.IPrincipal): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'RequireIfNoneMatchOnMetadata',
    effect: iam.Effect.DENY,
    principals: principal ? [principal] : undefined,
    actions: ['s3:PutObject'],
    resources: [objects],
    conditions: {
      Null: { 's3:if-none-match': 'true' },
      Bool: { 's3:ObjectCreationOperation': 'true' },
    },
  });
}

/**
 * Uploads stay encrypted with S3's own key, the bucket's default, which the
 * function can always read: a PUT that names another encryption (SSE-KMS,
 * DSSE-KMS) or brings a key of its own (SSE-C) is refused there, instead of
 * every read of it failing into the DLQ. A PUT without the header gets the
 * default (AWS's pattern for pinning SSE-S3; agents send none).
 */
export function pinToSseS3(objects: string): iam.PolicyStatement[] {
  const deny = (sid: string, conditions: Record<string, Record<string, string>>) =>
    new iam.PolicyStatement({ sid, effect: iam.Effect.DENY, principals: [new iam.AnyPrincipal()], actions: ['s3:PutObject'], resources: [objects], conditions });
  return [
    deny('DenyEncryptionOtherThanSseS3', {
      Null: { 's3:x-amz-server-side-encryption': 'false' },
      StringNotEquals: { 's3:x-amz-server-side-encryption': 'AES256' },
    }),
    deny('DenyCustomerProvidedKeys', { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'false' } }),
  ];
}
