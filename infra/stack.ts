// The whole deployment: buckets, queue + DLQ, export function, agent policy,
// dashboard and alarms, plus the outputs an operator needs.
import { CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AgentPolicy } from './agent-policy.ts';
import { resolveConfig, type SnapmetaConfig } from './config.ts';
import { ExportPipeline } from './export-pipeline.ts';
import { FleetWatch } from './fleet-watch.ts';
import { Monitoring } from './monitoring.ts';
import { Storage } from './storage.ts';

export interface SnapmetaStackProps extends StackProps, SnapmetaConfig {}

export class SnapmetaStack extends Stack {
  readonly storage: Storage;
  readonly pipeline: ExportPipeline;
  readonly agentPolicy: AgentPolicy;
  readonly monitoring: Monitoring;
  readonly fleetWatch: FleetWatch;

  constructor(scope: Construct, id: string, props: SnapmetaStackProps = {}) {
    super(scope, id, props);
    const config = resolveConfig(props);

    this.storage = new Storage(this, 'Storage', config);
    this.pipeline = new ExportPipeline(this, 'Export', this.storage, config);
    this.agentPolicy = new AgentPolicy(this, 'Agents', this.storage.stagingBucket);
    this.fleetWatch = new FleetWatch(this, 'FleetWatch', this.storage.stagingBucket, config);
    this.monitoring = new Monitoring(this, 'Monitoring', {
      pipeline: this.pipeline,
      fleetWatch: this.fleetWatch,
      timeoutSeconds: config.timeoutSeconds,
      alarmEmails: config.alarmEmails,
    });

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('StagingBucketName', this.storage.stagingBucket.bucketName, 'Agents upload to incoming/<host>/<snapshot-id>.db[.zst] here.');
    output('BackupBucketName', this.storage.backupBucket.bucketName, `Published metadata: ${this.storage.metadataPrefix}<snapshot-id>/.`);
    output('QueueUrl', this.pipeline.queue.queueUrl, 'Upload notifications waiting for the export function.');
    output('DeadLetterQueueArn', this.pipeline.dlq.queueArn, 'Uploads that failed every retry.');
    output(
      'DlqReplayCommand',
      Fn.join('', ['aws sqs start-message-move-task --source-arn ', this.pipeline.dlq.queueArn]),
      'After a fix: moves every DLQ message back to the queue it came from.',
    );
    output('AgentPolicyArn', this.agentPolicy.policy.managedPolicyArn, 'Attach to each agent principal tagged with its host.');
    output('AlarmTopicArn', this.monitoring.topic.topicArn, 'Subscribe here for alarm notifications.');
    output('DashboardName', this.monitoring.dashboard.dashboardName, 'CloudWatch dashboard of the pipeline.');
  }
}
