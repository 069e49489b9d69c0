// The scheduled fleet watch: a small function, run on a schedule, that counts
// the hosts gone silent from the receipts (functions/fleet-watch.ts). It may
// only list the receipt folders of the staging bucket and write its own logs.
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { RECEIPT_PREFIXES } from '../lib/core/keys.ts';
import { ALARMS, METRICS } from '../lib/service/settings.ts';
import { PROJECT_ROOT } from './bundle.ts';
import { acknowledgeRuntime, lambdaBasics } from './function-code.ts';
import type { ResolvedConfig } from './config.ts';

export const FLEET_WATCH_ENTRY = join(PROJECT_ROOT, 'functions', 'fleet-watch.ts');

export class FleetWatch extends Construct {
  readonly function: lambda.Function;

  constructor(scope: Construct, id: string, stagingBucket: s3.IBucket, config: ResolvedConfig) {
    super(scope, id);
    const { role, writeLogs, props, environment } = lambdaBasics(this, { entry: FLEET_WATCH_ENTRY, architecture: config.architecture, service: METRICS.fleetService });
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'ListReceipts',
      actions: ['s3:ListBucket'],
      resources: [stagingBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': RECEIPT_PREFIXES.flatMap((p) => [p, `${p}*`]) } },
    }));
    role.addToPolicy(writeLogs);
    this.function = new lambda.Function(this, 'Function', {
      ...props,
      runtime: lambda.Runtime.NODEJS_22_X,
      memorySize: 256,
      timeout: Duration.minutes(5),
      environment: {
        ...environment,
        SNAPMETA_STAGING_BUCKET: stagingBucket.bucketName,
        SNAPMETA_SILENT_HOURS: String(config.silentHours),
      },
    });
    acknowledgeRuntime(this.function);
    new events.Rule(this, 'Schedule', {
      schedule: events.Schedule.rate(Duration.minutes(ALARMS.fleetWatchMinutes)),
      targets: [new targets.LambdaFunction(this.function)],
    });
  }
}
