// The scheduled fleet watch: a small function, run on a schedule, that counts
// the hosts gone silent from the receipts (functions/fleet-watch.ts). It may
// only list the receipt folders of the staging bucket and write its own logs.
import { join } from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { RECEIPT_PREFIXES } from '../lib/core/keys.ts';
import { ALARMS, LOG_RETENTION_DAYS, METRICS } from '../lib/service/settings.ts';
import { HANDLER, PROJECT_ROOT } from './bundle.ts';
import { bundledCode } from './function-code.ts';
import type { ResolvedConfig } from './config.ts';

export const FLEET_WATCH_ENTRY = join(PROJECT_ROOT, 'functions', 'fleet-watch.ts');

export class FleetWatch extends Construct {
  readonly function: lambda.Function;

  constructor(scope: Construct, id: string, stagingBucket: s3.IBucket, config: ResolvedConfig) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: LOG_RETENTION_DAYS as logs.RetentionDays });
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'ListReceipts',
      actions: ['s3:ListBucket'],
      resources: [stagingBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': RECEIPT_PREFIXES.flatMap((p) => [p, `${p}*`]) } },
    }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    const { architecture } = config;
    this.function = new lambda.Function(this, 'Function', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      handler: HANDLER,
      code: bundledCode(FLEET_WATCH_ENTRY, architecture),
      role,
      logGroup,
      memorySize: 256,
      timeout: Duration.minutes(5),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: METRICS.fleetService,
        POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
        SNAPMETA_STAGING_BUCKET: stagingBucket.bucketName,
        SNAPMETA_SILENT_HOURS: String(config.silentHours),
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'nodejs22.x is the runtime this project targets and tests, for both functions.',
    });
    new events.Rule(this, 'Schedule', {
      schedule: events.Schedule.rate(Duration.minutes(ALARMS.fleetWatchMinutes)),
      targets: [new targets.LambdaFunction(this.function)],
    });
  }
}
