// Upload → S3 notification → queue (+ DLQ) → export function, with the
// function's permissions spelled out one statement per promise.
import { Arn, ArnFormat, Aws, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SqsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENTRY } from './bundle.ts';
import { acknowledgeRuntime, lambdaBasics } from './function-code.ts';
import type { ResolvedConfig } from './config.ts';
import { acknowledgeWildcardResources } from './nag.ts';
import { METRICS, NOTIFICATION_FILTER, QUEUE, visibilityTimeoutSeconds } from '../lib/service/settings.ts';
import { STAGING_OUTPUT_PREFIXES } from '../lib/core/keys.ts';
import { requireIfNoneMatch, type Storage } from './storage.ts';

export class ExportPipeline extends Construct {
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, storage: Storage, config: ResolvedConfig) {
    super(scope, id);
    this.dlq = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(QUEUE.dlqRetentionDays),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(QUEUE.retentionDays),
      visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(config.timeoutSeconds)),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: QUEUE.maxReceiveCount },
    });
    for (const suffix of NOTIFICATION_FILTER.suffixes) {
      storage.stagingBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new SqsDestination(this.queue), { prefix: NOTIFICATION_FILTER.prefix, suffix });
    }

    const { role, writeLogs, props, environment } = lambdaBasics(this, { entry: ENTRY, architecture: config.architecture, service: METRICS.service });
    for (const statement of exportStatements(storage, writeLogs, config)) role.addToPolicy(statement);
    this.function = new NodejsFunction(this, 'Function', {
      ...props,
      runtime: lambda.Runtime.NODEJS_22_X,
      memorySize: config.memoryMb,
      timeout: Duration.seconds(config.timeoutSeconds),
      ephemeralStorageSize: Size.mebibytes(config.ephemeralStorageMb),
      environment: { ...environment, ...exportEnvironment(storage, config) },
    });
    this.function.addEventSource(new SqsEventSource(this.queue, { batchSize: QUEUE.batchSize, reportBatchItemFailures: true, maxConcurrency: config.maxConcurrency }));
    acknowledgeFindings(this, this.function, role, storage, config);
  }
}

/** What the function reads at start-up (lib/service/config.ts), besides lambdaBasics' environment. */
function exportEnvironment({ stagingBucket, backupBucket }: Storage, config: ResolvedConfig): Record<string, string> {
  return {
    SNAPMETA_BACKUP_BUCKET: backupBucket.bucketName,
    SNAPMETA_BACKUP_PREFIX: config.backupPrefix,
    SNAPMETA_STAGING_BUCKET: stagingBucket.bucketName,
    SNAPMETA_DELETE_STAGED: String(config.deleteStaged),
    SNAPMETA_MAX_INDEX_BYTES: String(config.maxIndexBytes),
    SNAPMETA_FORMAT: config.format,
    SNAPMETA_KEY_SCHEME: config.keyScheme,
    SNAPMETA_ALLOW_UNNAMED_IDS: String(config.allowUnnamedIds),
    SNAPMETA_CHECK_BLOBS: String(config.checkBlobs),
    SNAPMETA_BLOB_PREFIX: config.blobPrefix,
    ...('values' in config.recipients
      ? { SNAPMETA_AGE_RECIPIENTS: config.recipients.values.join(',') }
      : { SNAPMETA_RECIPIENTS_PARAMETER: config.recipients.parameter, SNAPMETA_RECIPIENTS_REFRESH_SECONDS: String(config.recipients.refreshSeconds) }),
  };
}

/** cdk-nag's findings this design accepts, each by its exact id and with its reason. */
function acknowledgeFindings(scope: Construct, fn: lambda.IFunction, role: iam.Role, { stagingBucket, backupBucket, metadataPrefix }: Storage, config: ResolvedConfig): void {
  acknowledgeWildcardResources(
    role,
    [...STAGED_OBJECTS, ...RECEIPT_OBJECTS].map((p) => stagingBucket.arnForObjects(p)),
    'Staged uploads and receipts are named by host and snapshot, unknown at deploy time: the key prefix is the narrowest scope.',
  );
  acknowledgeWildcardResources(
    role,
    [backupBucket.arnForObjects(`${metadataPrefix}*`), ...(config.checkBlobs ? [backupBucket.arnForObjects(`${config.blobPrefix}*`)] : [])],
    'Every snapshot publishes new keys under the metadata prefix: the prefix is the narrowest scope (writes are create-only, see RequireIfNoneMatchOnMetadata).',
  );
  acknowledgeRuntime(fn);
  // CDK's singleton that configures bucket notifications at deploy time.
  const notificationsHandler = Stack.of(scope).node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
  if (notificationsHandler) {
    Validations.of(notificationsHandler).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "CDK's own deploy-time handler that sets the staging bucket's notifications; it runs only during deployments and CDK owns its role.",
    });
  }
}

const STAGED_OBJECTS = [`${NOTIFICATION_FILTER.prefix}*`];
const RECEIPT_OBJECTS = STAGING_OUTPUT_PREFIXES.map((p) => `${p}*`);

/**
 * Exactly what the export needs: read and delete staged uploads; write
 * receipts; read and create (never overwrite or delete) published metadata.
 */
function exportStatements(storage: Storage, writeLogs: iam.PolicyStatement, config: ResolvedConfig): iam.PolicyStatement[] {
  const { stagingBucket, backupBucket, metadataPrefix } = storage;
  const metadataObjects = backupBucket.arnForObjects(`${metadataPrefix}*`);
  const statements = [
    new iam.PolicyStatement({
      sid: 'ReadAndDeleteStagedUploads',
      // The handler reads and deletes the exact version its event names.
      actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:DeleteObject', 's3:DeleteObjectVersion'],
      resources: STAGED_OBJECTS.map((p) => stagingBucket.arnForObjects(p)),
    }),
    new iam.PolicyStatement({
      sid: 'WriteReceipts',
      actions: ['s3:PutObject'],
      resources: RECEIPT_OBJECTS.map((p) => stagingBucket.arnForObjects(p)),
    }),
    new iam.PolicyStatement({
      sid: 'ReadAndCreateMetadata',
      actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
      resources: [metadataObjects],
    }),
    new iam.PolicyStatement({
      // So a missing object answers 404, not 403: the handler looks for an
      // existing manifest before publishing, and for an upload already gone.
      // Not narrowed by s3:prefix, which a GET or HEAD does not carry.
      sid: 'ListBuckets',
      actions: ['s3:ListBucket'],
      resources: [stagingBucket.bucketArn, backupBucket.bucketArn],
    }),
    // Also on the role, so the rule holds for an imported bucket whose policy we cannot change.
    requireIfNoneMatch(metadataObjects),
    ...(config.checkBlobs ? [new iam.PolicyStatement({
      // HEAD needs s3:GetObject; the blob check reads no blob's bytes, but IAM has no narrower action.
      sid: 'LookForBlobs',
      actions: ['s3:GetObject'],
      resources: [backupBucket.arnForObjects(`${config.blobPrefix}*`)],
    })] : []),
    writeLogs,
  ];
  if ('parameter' in config.recipients) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'ReadRecipientsParameter',
        actions: ['ssm:GetParameter'],
        resources: [parameterArn(config.recipients.parameter)],
      }),
    );
  }
  return statements;
}

function parameterArn(name: string): string {
  return Arn.format({
    partition: Aws.PARTITION,
    service: 'ssm',
    region: Aws.REGION,
    account: Aws.ACCOUNT_ID,
    resource: 'parameter',
    resourceName: name.replace(/^\//, ''),
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

