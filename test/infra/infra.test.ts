// The CDK stack's promises (issue 5), asserted on synthesized templates.
// Bundling is skipped here (test/infra/infra-bundle.test.ts covers the asset).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';
import { ERROR_CODES } from '../../lib/core/errors.ts';
import { configFromContext } from '../../infra/config.ts';
import {
  ALARMS,
  AGENT,
  DEFAULT_FUNCTION,
  DEFAULT_RECIPIENTS_PARAMETER,
  METRICS,
  NOTIFICATION_FILTER,
  QUEUE,
  SILENT_HOURS,
  STAGING,
} from '../../lib/service/settings.ts';
import { STAGING_OUTPUT_PREFIXES } from '../../lib/core/keys.ts';
import { largestIndexFor } from '../../lib/service/memory.ts';
import { SnapmetaStack, type SnapmetaStackProps } from '../../infra/stack.ts';

// A real X25519 recipient (public key only), made with age-keygen.
const RECIPIENT = 'age19ez0dm5jsp8gqddyjysd27r58m9zwt42kxh5dg3yclfzl34jt9hs39gj9l';
const DAY = 86_400;

function synth(props: SnapmetaStackProps = {}, context: Record<string, unknown> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new SnapmetaStack(app, 'Test', props);
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
  const id = (c: IConstruct) => stack.getLogicalId((c.node.defaultChild ?? c) as CfnElement);
  const props_ = (c: IConstruct) => resources[id(c)].Properties;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  return { app, stack, template, resources, id, props: props_, ofType };
}

type Synth = ReturnType<typeof synth>;

interface FlatStatement {
  Sid?: string;
  Effect: string;
  Action: string[];
  Resource: string[];
  Condition?: unknown;
}

/** Statements with tokens rendered as text (<Logical.Arn>, <AWS::Partition>) and lists normalised. */
function flatStatements(document: { Statement: any[] }): FlatStatement[] {
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]);
  return document.Statement.map((s) => ({
    ...(s.Sid ? { Sid: s.Sid } : {}),
    Effect: s.Effect,
    Action: list(s.Action),
    Resource: list(s.Resource).map((r) => flattenCfnReference(r)),
    ...(s.Condition ? { Condition: s.Condition } : {}),
  }));
}

const created = synth({ recipients: [RECIPIENT] });
const fromParameter = synth();
const imported = synth({
  recipients: [RECIPIENT],
  backupBucketName: 'corp-backups',
  backupPrefix: 'site-a/',
  architecture: 'x86_64',
  memoryMb: 4096,
  timeoutSeconds: 300,
  maxConcurrency: 3,
  alarmEmails: ['ops@example.com'],
});

describe('buckets', () => {
  const bucketIds = (s: Synth) => ({
    staging: s.id(s.stack.storage.stagingBucket),
    backup: s.id(s.stack.storage.backupBucket),
  });

  it('are encrypted, private, versioned and log access', () => {
    const { staging, backup } = bucketIds(created);
    for (const logical of [staging, backup]) {
      const p = created.resources[logical].Properties;
      assert.deepEqual(p.BucketEncryption.ServerSideEncryptionConfiguration, [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
      assert.deepEqual(p.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      assert.deepEqual(p.VersioningConfiguration, { Status: 'Enabled' });
      assert.ok(p.LoggingConfiguration.DestinationBucketName, `${logical} logs access`);
    }
  });

  it('deny plain HTTP and TLS below 1.2', () => {
    const { staging, backup } = bucketIds(created);
    for (const logical of [staging, backup]) {
      const [, policy] = created.ofType('AWS::S3::BucketPolicy').find(([, r]) => r.Properties.Bucket.Ref === logical)!;
      const statements = flatStatements(policy.Properties.PolicyDocument);
      const everything = [`<${logical}.Arn>`, `<${logical}.Arn>/*`];
      assert.deepEqual(statements.slice(0, 2), [
        { Effect: 'Deny', Action: ['s3:*'], Resource: everything, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
        { Effect: 'Deny', Action: ['s3:*'], Resource: everything, Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } },
      ]);
    }
  });

  it('staging pins uploads to SSE-S3: another encryption or a customer key is refused at the PUT; no header gets the default', () => {
    const staging = created.id(created.stack.storage.stagingBucket);
    const [, policy] = created.ofType('AWS::S3::BucketPolicy').find(([, r]) => r.Properties.Bucket.Ref === staging)!;
    const statements = policy.Properties.PolicyDocument.Statement;
    const pins = flatStatements({ Statement: statements.filter((s: any) => /^Deny(EncryptionOtherThanSseS3|CustomerProvidedKeys)$/.test(s.Sid)) });
    assert.deepEqual(pins, [
      {
        Sid: 'DenyEncryptionOtherThanSseS3',
        Effect: 'Deny',
        Action: ['s3:PutObject'],
        Resource: [`<${staging}.Arn>/*`],
        // Only a header that is there and not AES256: an upload without one is encrypted by the bucket's default.
        Condition: { Null: { 's3:x-amz-server-side-encryption': 'false' }, StringNotEquals: { 's3:x-amz-server-side-encryption': 'AES256' } },
      },
      {
        Sid: 'DenyCustomerProvidedKeys',
        Effect: 'Deny',
        Action: ['s3:PutObject'],
        Resource: [`<${staging}.Arn>/*`],
        Condition: { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'false' } },
      },
    ]);
    for (const sid of ['DenyEncryptionOtherThanSseS3', 'DenyCustomerProvidedKeys']) {
      assert.deepEqual(statements.find((s: any) => s.Sid === sid).Principal, { AWS: '*' }, `${sid} binds every principal, the agents and the function too`);
    }
    // The function's receipts and the agents' uploads send no encryption header: neither statement applies to them.
    const backup = created.id(created.stack.storage.backupBucket);
    const [, backupPolicy] = created.ofType('AWS::S3::BucketPolicy').find(([, r]) => r.Properties.Bucket.Ref === backup)!;
    assert.ok(!backupPolicy.Properties.PolicyDocument.Statement.some((s: any) => /^Deny(EncryptionOtherThanSseS3|CustomerProvidedKeys)$/.test(s.Sid ?? '')));
  });

  it('expire staged uploads and receipts after the DLQ retention', () => {
    const rules = created.props(created.stack.storage.stagingBucket).LifecycleConfiguration.Rules;
    assert.deepEqual(
      rules,
      [NOTIFICATION_FILTER.prefix, ...STAGING_OUTPUT_PREFIXES].map((prefix) => ({
        Id: `expire-${prefix.slice(0, -1)}`,
        Prefix: prefix,
        Status: 'Enabled',
        ExpirationInDays: STAGING.expirationDays,
        NoncurrentVersionExpiration: { NoncurrentDays: STAGING.noncurrentVersionExpirationDays },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: STAGING.abortIncompleteUploadDays },
      })),
    );
    assert.ok(STAGING.expirationDays > QUEUE.dlqRetentionDays);
    assert.throws(() => synth({ recipients: [RECIPIENT], stagingExpirationDays: QUEUE.dlqRetentionDays }), /stagingExpirationDays/);
  });

  it('backup bucket policy requires If-None-Match on metadata writes', () => {
    const { backup } = bucketIds(created);
    const [, policy] = created.ofType('AWS::S3::BucketPolicy').find(([, r]) => r.Properties.Bucket.Ref === backup)!;
    const statement = flatStatements(policy.Properties.PolicyDocument).find((s) => s.Sid === 'RequireIfNoneMatchOnMetadata');
    assert.deepEqual(statement, {
      Sid: 'RequireIfNoneMatchOnMetadata',
      Effect: 'Deny',
      Action: ['s3:PutObject'],
      Resource: [`<${backup}.Arn>/metadata/*`],
      Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
    });
    assert.deepEqual(policy.Properties.PolicyDocument.Statement.find((s: any) => s.Sid === statement!.Sid).Principal, { AWS: '*' });
  });

  it('an imported backup bucket is used by name, with its prefix, and left unmodified', () => {
    assert.equal(imported.ofType('AWS::S3::Bucket').length, 2, 'access logs and staging only');
    const stagingLogical = imported.id(imported.stack.storage.stagingBucket);
    const policied = imported.ofType('AWS::S3::BucketPolicy').map(([, r]) => r.Properties.Bucket.Ref);
    assert.ok(!policied.some((ref) => ref === undefined), 'no policy on a bucket we do not own');
    assert.ok(policied.includes(stagingLogical));
    const env = imported.props(imported.stack.pipeline.function).Environment.Variables;
    assert.equal(env.SNAPMETA_BACKUP_BUCKET, 'corp-backups');
    assert.equal(env.SNAPMETA_BACKUP_PREFIX, 'site-a/');
  });
});

describe('queue and notifications', () => {
  it('queue: SQS-managed encryption, redrive to the DLQ, visibility 6× the function timeout', () => {
    const { queue, dlq } = created.stack.pipeline;
    assert.deepEqual(created.props(queue), {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: QUEUE.retentionDays * DAY,
      VisibilityTimeout: 6 * DEFAULT_FUNCTION.timeoutSeconds,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [created.id(dlq), 'Arn'] }, maxReceiveCount: 5 },
    });
    assert.deepEqual(created.props(dlq), { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * DAY });
    assert.equal(QUEUE.maxReceiveCount, 5);
    assert.equal(imported.props(imported.stack.pipeline.queue).VisibilityTimeout, 6 * 300);
  });

  it('both queues refuse plain HTTP', () => {
    const policies = created.ofType('AWS::SQS::QueuePolicy');
    for (const q of [created.stack.pipeline.queue, created.stack.pipeline.dlq]) {
      const [, policy] = policies.find(([, r]) => r.Properties.Queues.some((ref: any) => ref.Ref === created.id(q)))!;
      const deny = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Effect === 'Deny');
      assert.deepEqual(deny.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
    }
  });

  it('ObjectCreated under incoming/ ending .db or .db.zst goes to the queue', () => {
    const [[, notifications]] = created.ofType('Custom::S3BucketNotifications');
    assert.deepEqual(notifications.Properties.BucketName, { Ref: created.id(created.stack.storage.stagingBucket) });
    const queueArn = { 'Fn::GetAtt': [created.id(created.stack.pipeline.queue), 'Arn'] };
    assert.deepEqual([...NOTIFICATION_FILTER.suffixes].sort(), ['.db', '.db.zst']);
    assert.deepEqual(
      notifications.Properties.NotificationConfiguration.QueueConfigurations,
      NOTIFICATION_FILTER.suffixes.map((suffix) => ({
        Events: ['s3:ObjectCreated:*'],
        Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: suffix }, { Name: 'prefix', Value: 'incoming/' }] } },
        QueueArn: queueArn,
      })),
    );
  });
});

describe('function', () => {
  it('nodejs22.x, arm64 by default, ESM handler, sane defaults', () => {
    const p = created.props(created.stack.pipeline.function);
    assert.equal(p.Runtime, 'nodejs22.x');
    assert.deepEqual(p.Architectures, ['arm64']);
    // index.mjs in the bundle: Lambda loads it as an ES module.
    assert.equal(p.Handler, 'index.handler');
    assert.equal(p.MemorySize, DEFAULT_FUNCTION.memoryMb);
    assert.equal(p.Timeout, DEFAULT_FUNCTION.timeoutSeconds);
    assert.deepEqual(p.EphemeralStorage, { Size: DEFAULT_FUNCTION.ephemeralStorageMb });
    const q = imported.props(imported.stack.pipeline.function);
    assert.deepEqual([q.Architectures, q.MemorySize, q.Timeout], [['x86_64'], 4096, 300]);
  });

  it('environment per the Lambda contract', () => {
    const env = created.props(created.stack.pipeline.function).Environment.Variables;
    assert.deepEqual(env, {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: METRICS.service,
      POWERTOOLS_METRICS_NAMESPACE: 'Snapmeta',
      SNAPMETA_AGE_RECIPIENTS: RECIPIENT,
      SNAPMETA_BACKUP_BUCKET: { Ref: created.id(created.stack.storage.backupBucket) },
      SNAPMETA_BACKUP_PREFIX: '',
      SNAPMETA_STAGING_BUCKET: { Ref: created.id(created.stack.storage.stagingBucket) },
      SNAPMETA_DELETE_STAGED: 'true',
      SNAPMETA_MAX_INDEX_BYTES: String(DEFAULT_FUNCTION.maxIndexBytes),
      SNAPMETA_FORMAT: 'sql',
      SNAPMETA_KEY_SCHEME: 'plain',
      SNAPMETA_ALLOW_UNNAMED_IDS: 'false',
      SNAPMETA_CHECK_BLOBS: 'true',
      SNAPMETA_BLOB_PREFIX: 'blobs/',
    });
  });

  it("today's readers: format, key scheme and unnamed ids reach the function's environment, from props and from context", () => {
    const fromProps = synth({ recipients: [RECIPIENT], format: 'sqlite', keyScheme: 'hashed', allowUnnamedIds: true });
    const env = fromProps.props(fromProps.stack.pipeline.function).Environment.Variables;
    assert.deepEqual([env.SNAPMETA_FORMAT, env.SNAPMETA_KEY_SCHEME, env.SNAPMETA_ALLOW_UNNAMED_IDS], ['sqlite', 'hashed', 'true']);
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], recipients: RECIPIENT, format: 'sqlite', keyScheme: 'hashed', allowUnnamedIds: 'true' } });
    const stack = new SnapmetaStack(app, 'Readers', configFromContext(app.node));
    const fn = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(stack.pipeline.function.node.defaultChild as CfnElement)].Properties;
    const vars = fn.Environment.Variables;
    assert.deepEqual([vars.SNAPMETA_FORMAT, vars.SNAPMETA_KEY_SCHEME, vars.SNAPMETA_ALLOW_UNNAMED_IDS], ['sqlite', 'hashed', 'true']);
  });

  it('SQS event source: batch size 1, partial batch failures, bounded concurrency', () => {
    const [[, mapping]] = created.ofType('AWS::Lambda::EventSourceMapping');
    assert.deepEqual(mapping.Properties, {
      BatchSize: 1,
      EventSourceArn: { 'Fn::GetAtt': [created.id(created.stack.pipeline.queue), 'Arn'] },
      FunctionName: { Ref: created.id(created.stack.pipeline.function) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: DEFAULT_FUNCTION.maxConcurrency },
    });
    const [[, other]] = imported.ofType('AWS::Lambda::EventSourceMapping');
    assert.deepEqual(other.Properties.ScalingConfig, { MaximumConcurrency: 3 });
  });

  it('logs to its own log group with a retention', () => {
    const p = created.props(created.stack.pipeline.function);
    const [[logGroup, group]] = created.ofType('AWS::Logs::LogGroup');
    assert.deepEqual(p.LoggingConfig, { LogGroup: { Ref: logGroup } });
    assert.equal(group.Properties.RetentionInDays, 30);
  });
});

describe('recipients', () => {
  it('a malformed age1 recipient fails synth, from props or from context', () => {
    const broken = RECIPIENT.slice(0, -1) + (RECIPIENT.endsWith('q') ? 'p' : 'q');
    assert.throws(() => synth({ recipients: [broken] }), /not an age X25519 recipient/);
    assert.throws(() => synth({ recipients: ['age1xyz'] }), /not an age X25519 recipient/);
    const app = new App({ context: { recipients: `${RECIPIENT},${broken}` } });
    assert.throws(() => new SnapmetaStack(app, 'Bad', configFromContext(app.node)), /not an age X25519 recipient/);
    assert.throws(() => synth({ recipients: [] }), /no age recipient/);
    assert.throws(() => synth({ recipients: [RECIPIENT], recipientsParameter: '/x' }), /not both/);
  });

  it('context values reach the stack', () => {
    const app = new App({
      context: {
        'aws:cdk:bundling-stacks': [],
        recipients: `${RECIPIENT}, ${RECIPIENT}`,
        architecture: 'x86_64',
        timeoutSeconds: '120',
        backupBucket: 'corp',
        alarmEmails: 'a@example.com,b@example.com',
      },
    });
    const stack = new SnapmetaStack(app, 'Ctx', configFromContext(app.node));
    const t = Template.fromStack(stack).toJSON();
    const fn = t.Resources[stack.getLogicalId(stack.pipeline.function.node.defaultChild as CfnElement)].Properties;
    assert.deepEqual([fn.Architectures, fn.Timeout, fn.Environment.Variables.SNAPMETA_AGE_RECIPIENTS], [['x86_64'], 120, RECIPIENT]);
    assert.equal(fn.Environment.Variables.SNAPMETA_BACKUP_BUCKET, 'corp');
    const emails = Object.values(t.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::SNS::Subscription');
    assert.deepEqual(emails.map((r) => r.Properties.Endpoint).sort(), ['a@example.com', 'b@example.com']);
  });

  it('without recipients the function reads an SSM parameter, and may read only that one', () => {
    const env = fromParameter.props(fromParameter.stack.pipeline.function).Environment.Variables;
    assert.equal(env.SNAPMETA_RECIPIENTS_PARAMETER, DEFAULT_RECIPIENTS_PARAMETER);
    assert.equal(env.SNAPMETA_RECIPIENTS_REFRESH_SECONDS, String(DEFAULT_FUNCTION.recipientsRefreshSeconds));
    const everyMinute = synth({ recipientsRefreshSeconds: 60 });
    assert.equal(everyMinute.props(everyMinute.stack.pipeline.function).Environment.Variables.SNAPMETA_RECIPIENTS_REFRESH_SECONDS, '60');
    assert.throws(() => synth({ recipientsRefreshSeconds: -1 }), /recipientsRefreshSeconds/);
    assert.equal(env.SNAPMETA_AGE_RECIPIENTS, undefined);
    const statements = flatStatements(roleDocument(fromParameter));
    assert.deepEqual(statements.find((s) => s.Sid === 'ReadRecipientsParameter'), {
      Sid: 'ReadRecipientsParameter',
      Effect: 'Allow',
      Action: ['ssm:GetParameter'],
      Resource: ['arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/snapmeta/age-recipients'],
    });
    assert.equal(flatStatements(roleDocument(created)).find((s) => s.Sid === 'ReadRecipientsParameter'), undefined);
  });
});

function roleDocument(s: Synth, role: IConstruct = s.stack.pipeline.function.role!) {
  const [[, policy]] = s.ofType('AWS::IAM::Policy').filter(([, r]) => r.Properties.Roles.some((x: any) => x.Ref === s.id(role)));
  return policy.Properties.PolicyDocument;
}

describe('least privilege', () => {
  it('the function role holds exactly these statements', () => {
    for (const [s, backupArn, prefix] of [
      [created, `<${created.id(created.stack.storage.backupBucket)}.Arn>`, ''],
      [imported, 'arn:<AWS::Partition>:s3:::corp-backups', 'site-a/'],
    ] as const) {
      const staging = `<${s.id(s.stack.storage.stagingBucket)}.Arn>`;
      assert.deepEqual(flatStatements(roleDocument(s)), [
        {
          Sid: 'ReadAndDeleteStagedUploads',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:DeleteObject', 's3:DeleteObjectVersion'],
          Resource: [`${staging}/incoming/*`],
        },
        { Sid: 'WriteReceipts', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [`${staging}/processed/*`, `${staging}/rejected/*`, `${staging}/failed/*`] },
        {
          Sid: 'ReadAndCreateMetadata',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
          Resource: [`${backupArn}/${prefix}metadata/*`],
        },
        { Sid: 'ListBuckets', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [staging, backupArn] },
        {
          Sid: 'RequireIfNoneMatchOnMetadata',
          Effect: 'Deny',
          Action: ['s3:PutObject'],
          Resource: [`${backupArn}/${prefix}metadata/*`],
          Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
        },
        // Existence and size of the export's blobs, nothing else of them.
        { Sid: 'LookForBlobs', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`${backupArn}/${prefix}blobs/*`] },
        {
          Sid: 'WriteLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: [`<${s.ofType('AWS::Logs::LogGroup')[0][0]}.Arn>`],
        },
        {
          Effect: 'Allow',
          Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
          Resource: [`<${s.id(s.stack.pipeline.queue)}.Arn>`],
        },
      ]);
      const role = s.props(s.stack.pipeline.function.role!);
      assert.equal(role.ManagedPolicyArns, undefined, 'no managed policies on the function role');
    }
  });

  it('the fleet watch may only list the receipt folders and write its logs; it runs on a schedule', () => {
    const s = created;
    const staging = `<${s.id(s.stack.storage.stagingBucket)}.Arn>`;
    assert.deepEqual(flatStatements(roleDocument(s, s.stack.fleetWatch.function.role!)), [
      {
        Sid: 'ListReceipts',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [staging],
        Condition: { StringLike: { 's3:prefix': ['processed/', 'processed/*', 'rejected/', 'rejected/*'] } },
      },
      { Sid: 'WriteLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [`<${s.id(s.stack.fleetWatch.node.findChild('Logs'))}.Arn>`] },
    ]);
    const env = s.props(s.stack.fleetWatch.function).Environment.Variables;
    assert.deepEqual([env.SNAPMETA_SILENT_HOURS, env.POWERTOOLS_SERVICE_NAME], [String(SILENT_HOURS), METRICS.fleetService]);
    const [[, rule]] = s.ofType('AWS::Events::Rule');
    assert.equal(rule.Properties.ScheduleExpression, 'rate(1 hour)', `every ${ALARMS.fleetWatchMinutes} minutes`);
    assert.deepEqual(rule.Properties.Targets.map((t: any) => t.Arn), [{ 'Fn::GetAtt': [s.id(s.stack.fleetWatch.function), 'Arn'] }]);
  });

  it('agents may upload and read receipts only under their own host tag', () => {
    const [[, policy]] = created.ofType('AWS::IAM::ManagedPolicy');
    const staging = `<${created.id(created.stack.storage.stagingBucket)}.Arn>`;
    const host = `<aws:PrincipalTag/${AGENT.hostTagKey}>`; // ${…} as cdk-nag renders it
    assert.deepEqual(flatStatements(policy.Properties.PolicyDocument), [
      { Sid: 'UploadOwnIndexes', Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: [`${staging}/incoming/${host}/*`] },
      { Sid: 'ReadOwnReceipts', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`${staging}/processed/${host}/*`, `${staging}/rejected/${host}/*`, `${staging}/failed/${host}/*`] },
      {
        Sid: 'ListOwnReceipts',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [staging],
        Condition: {
          StringLike: { 's3:prefix': ['processed/${aws:PrincipalTag/snapmeta-host}/*', 'rejected/${aws:PrincipalTag/snapmeta-host}/*', 'failed/${aws:PrincipalTag/snapmeta-host}/*'] },
        },
      },
    ]);
    // The raw template keeps the IAM policy variable for IAM to substitute.
    assert.match(JSON.stringify(policy.Properties.PolicyDocument), /incoming\/\$\{aws:PrincipalTag\/snapmeta-host\}\/\*/);
  });
});

describe('observability', () => {
  it('dashboard shows exports, rejections by code, failures, durations, bytes, queue, DLQ, errors and throttles', () => {
    const [[, dashboard]] = created.ofType('AWS::CloudWatch::Dashboard');
    // The body is JSON text joined around tokens, which all sit inside JSON strings.
    const [, parts] = dashboard.Properties.DashboardBody['Fn::Join'];
    const body = JSON.parse(parts.map((p: unknown) => (typeof p === 'string' ? p : '<token>')).join(''));
    const titles = body.widgets.map((w: any) => w.properties.title);
    assert.deepEqual(titles, [
      'Exports',
      'Rejections by code',
      'Transient failures and Lambda errors',
      'Duration against the timeout',
      'Stage durations p99',
      'Bytes in and out',
      'Queue depth',
      'Age of oldest message (s)',
      'DLQ depth',
      'Blobs the exports name, missing from the bucket',
      'Hosts',
      'Fleet watch errors',
      'Alarms',
    ]);
    const widget = (title: string) => body.widgets.find((w: any) => w.properties.title === title).properties;
    const names = (title: string) => widget(title).metrics.map((m: any[]) => m.filter((x) => typeof x === 'string').slice(0, 2).join(' '));
    const exports = widget('Exports').metrics;
    assert.deepEqual(names('Exports').slice(0, 2), ['Snapmeta ExportSucceeded', 'Snapmeta DuplicateSkipped']);
    // Rejections are only emitted per code: the total is a sum over every code.
    const total = exports.find((m: any[]) => m[0].expression);
    assert.equal(total[0].expression, `SUM([${ERROR_CODES.map((_, i) => `r${i}`).join(',')}])`);
    assert.equal(total[0].label, 'Rejected');
    const byCode = widget('Rejections by code').metrics;
    assert.deepEqual(
      byCode.map((m: any[]) => m[m.indexOf('code') + 1]),
      [...ERROR_CODES],
    );
    assert.ok(byCode.every((m: any[]) => m[0] === 'Snapmeta' && m[1] === 'ExportRejected' && m.includes(METRICS.service)));
    assert.deepEqual(names('Transient failures and Lambda errors'), ['Snapmeta ExportFailed', 'AWS/Lambda Errors', 'AWS/Lambda Throttles']);
    const duration = widget('Duration against the timeout');
    assert.deepEqual(duration.annotations.horizontal, [{ value: 600_000, label: 'Function timeout', color: '#d62728', yAxis: 'left' }]);
    assert.deepEqual(duration.metrics.map((m: any[]) => m.at(-1).stat), ['p50', 'p99', 'p99']);
    assert.match(JSON.stringify(widget('Stage durations p99').metrics), /StageDurationMs/);
    assert.deepEqual(names('Bytes in and out'), ['Snapmeta InputBytes', 'Snapmeta OutputBytes', 'Snapmeta RowsKept']);
    assert.deepEqual(names('Queue depth'), ['AWS/SQS ApproximateNumberOfMessagesVisible', 'AWS/SQS ApproximateNumberOfMessagesNotVisible']);
    assert.deepEqual(names('Age of oldest message (s)'), ['AWS/SQS ApproximateAgeOfOldestMessage']);
    assert.deepEqual(names('DLQ depth'), ['AWS/SQS ApproximateNumberOfMessagesVisible']);
    assert.deepEqual(names('Blobs the exports name, missing from the bucket'), ['Snapmeta MissingBlobs', 'Snapmeta BlobCheckFailed']);
    assert.deepEqual(names('Hosts'), ['Snapmeta SilentHosts', 'Snapmeta HostsSeen']);
    assert.ok(widget('Hosts').metrics.every((m: any[]) => m.includes(METRICS.fleetService)), 'one count for the fleet, not a metric per host');
  });

  it('alarms (DLQ not empty, oldest message, errors) notify the SNS topic', () => {
    const topic = { Ref: created.id(created.stack.monitoring.topic) };
    const alarms = Object.fromEntries(created.stack.monitoring.alarms.map((a) => [a.node.id, created.props(a)]));
    for (const a of Object.values(alarms)) {
      assert.deepEqual(a.AlarmActions, [topic]);
      assert.deepEqual(a.OKActions, [topic]);
      assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(a.TreatMissingData, 'notBreaching');
    }
    const queueName = (q: IConstruct) => [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [created.id(q), 'QueueName'] } }];
    // A labelled metric renders as a one-metric query; an unlabelled one inline.
    const pick = (a: any) => {
      const m = a.Metrics?.[0].MetricStat.Metric ?? a;
      return { ns: m.Namespace, name: m.MetricName, dims: m.Dimensions, threshold: a.Threshold };
    };
    assert.deepEqual(pick(alarms.DlqNotEmpty), {
      ns: 'AWS/SQS',
      name: 'ApproximateNumberOfMessagesVisible',
      dims: queueName(created.stack.pipeline.dlq),
      threshold: 1,
    });
    assert.deepEqual(pick(alarms.OldestMessageTooOld), {
      ns: 'AWS/SQS',
      name: 'ApproximateAgeOfOldestMessage',
      dims: queueName(created.stack.pipeline.queue),
      threshold: ALARMS.oldestMessageAgeSeconds,
    });
    assert.deepEqual(pick(alarms.FunctionErrors), {
      ns: 'AWS/Lambda',
      name: 'Errors',
      dims: [{ Name: 'FunctionName', Value: { Ref: created.id(created.stack.pipeline.function) } }],
      threshold: 1,
    });
    assert.deepEqual(pick(alarms.ExportFailures), {
      ns: 'Snapmeta',
      name: 'ExportFailed',
      dims: [{ Name: 'service', Value: METRICS.service }],
      threshold: ALARMS.exportFailures,
    });
    assert.deepEqual(pick(alarms.BlobsMissing), { ns: 'Snapmeta', name: 'MissingBlobs', dims: [{ Name: 'service', Value: METRICS.service }], threshold: 1 });
    assert.deepEqual(pick(alarms.HostsSilent), { ns: 'Snapmeta', name: 'SilentHosts', dims: [{ Name: 'service', Value: METRICS.fleetService }], threshold: 1 });
    assert.equal(alarms.HostsSilent.Period ?? alarms.HostsSilent.Metrics?.[0].MetricStat.Period, ALARMS.fleetWatchMinutes * 60);
    assert.deepEqual(pick(alarms.FleetWatchErrors), {
      ns: 'AWS/Lambda', name: 'Errors', dims: [{ Name: 'FunctionName', Value: { Ref: created.id(created.stack.fleetWatch.function) } }], threshold: 1,
    });
    assert.equal(created.ofType('AWS::SNS::Subscription').length, 0);
    const [[, sub]] = imported.ofType('AWS::SNS::Subscription');
    assert.deepEqual(sub.Properties, {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: imported.id(imported.stack.monitoring.topic) },
    });
  });

  it('outputs the DLQ ARN and a ready replay command', () => {
    const outputs = created.template.toJSON().Outputs;
    const dlqArn = { 'Fn::GetAtt': [created.id(created.stack.pipeline.dlq), 'Arn'] };
    assert.deepEqual(outputs.DeadLetterQueueArn.Value, dlqArn);
    assert.deepEqual(outputs.DlqReplayCommand.Value, { 'Fn::Join': ['', ['aws sqs start-message-move-task --source-arn ', dlqArn]] });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports nothing unacknowledged, for every variant', () => {
    for (const s of [created, fromParameter, imported]) {
      const report = new AwsSolutionsChecks().validateScope(s.stack);
      assert.deepEqual(report.violations.map((v) => v.ruleName), []);
    }
  });

  it('acknowledgements name exact findings: a new wildcard is still reported', () => {
    const s = synth({ recipients: [RECIPIENT] });
    s.stack.pipeline.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [s.stack.storage.stagingBucket.arnForObjects('*')] }),
    );
    const report = new AwsSolutionsChecks().validateScope(s.stack);
    assert.deepEqual(
      report.violations.map((v) => v.ruleName),
      [`AwsSolutions-IAM5[Resource::<${s.id(s.stack.storage.stagingBucket)}.Arn>/*]`],
    );
  });
});

describe('config', () => {
  it("refuses at synth a maxIndexBytes the function's memory cannot hold, naming the largest that fits", () => {
    const fits = largestIndexFor(2048);
    assert.equal(fits, Math.floor(((2048 - 256) * 2 ** 20) / 1.3));
    assert.throws(
      () => synth({ recipients: [RECIPIENT], memoryMb: 2048, maxIndexBytes: 2 * 1024 ** 3 }),
      new RegExp(`maxIndexBytes 2147483648 does not fit a function of 2048 MB: an export needs about 1.3 × the index \\+ 256 MiB, so the largest index it holds is ${fits} bytes; lower maxIndexBytes to that, or raise memoryMb to 2919`),
    );
    const atLimit = synth({ recipients: [RECIPIENT], memoryMb: 2048, maxIndexBytes: fits });
    assert.equal(atLimit.props(atLimit.stack.pipeline.function).Environment.Variables.SNAPMETA_MAX_INDEX_BYTES, String(fits));
    // Unset, the limit is the default or what the memory holds, whichever is smaller.
    const small = synth({ recipients: [RECIPIENT], memoryMb: 1024 });
    assert.equal(small.props(small.stack.pipeline.function).Environment.Variables.SNAPMETA_MAX_INDEX_BYTES, String(largestIndexFor(1024)));
    assert.throws(() => synth({ recipients: [RECIPIENT], memoryMb: 256 }), /memoryMb 256 holds no index at all/);
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], recipients: RECIPIENT, memoryMb: '1024', maxIndexBytes: String(1024 ** 3) } });
    assert.throws(() => new SnapmetaStack(app, 'TooSmall', configFromContext(app.node)), /maxIndexBytes 1073741824 does not fit a function of 1024 MB/);
  });

  it('rejects out-of-range settings at synth', () => {
    for (const [props, pattern] of [
      [{ timeoutSeconds: 901 }, /timeoutSeconds/],
      [{ memoryMb: 64 }, /memoryMb/],
      [{ maxConcurrency: 1 }, /maxConcurrency/],
      [{ backupPrefix: 'no-slash' }, /backupPrefix/],
      [{ backupPrefix: '/abs/' }, /backupPrefix/],
      [{ architecture: 'riscv' as never }, /architecture/],
      [{ backupBucketName: 'Not_A_Bucket' }, /backupBucket/],
      [{ maxIndexBytes: 8 * 1024 ** 3 }, /maxIndexBytes/],
      [{ format: 'csv' as never }, /format must be sql or sqlite/],
      [{ keyScheme: 'sha1' as never }, /keyScheme must be plain or hashed/],
    ] as const) {
      assert.throws(() => synth({ recipients: [RECIPIENT], ...props }), pattern);
    }
  });
});
