// The dashboard and alarms. Export metrics are the handler's EMF metrics
// (namespace Snapmeta, dimension service), the fleet watch's likewise; queue and
// Lambda metrics are AWS's.
import { Duration, Validations } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { ERROR_CODES } from '../lib/core/errors.ts';
import type { ExportPipeline } from './export-pipeline.ts';
import type { FleetWatch } from './fleet-watch.ts';
import { ALARMS, METRICS } from '../lib/service/settings.ts';

export interface MonitoringProps {
  pipeline: ExportPipeline;
  fleetWatch: FleetWatch;
  timeoutSeconds: number;
  alarmEmails: string[];
}

export class Monitoring extends Construct {
  readonly dashboard: cw.Dashboard;
  readonly topic: sns.Topic;
  readonly alarms: cw.Alarm[];

  constructor(scope: Construct, id: string, { pipeline, fleetWatch, timeoutSeconds, alarmEmails }: MonitoringProps) {
    super(scope, id);
    const metrics = pipelineMetrics(pipeline, fleetWatch);
    this.topic = alarmTopic(this, alarmEmails);
    this.alarms = alarmsOn(this, metrics);
    const action = new SnsAction(this.topic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    this.dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(1) });
    addWidgets(this.dashboard, metrics, timeoutSeconds * 1000);
    this.dashboard.addWidgets(new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
  }
}

type Metrics = ReturnType<typeof pipelineMetrics>;

function pipelineMetrics({ queue, dlq, function: fn }: ExportPipeline, fleetWatch: FleetWatch) {
  const period = Duration.minutes(ALARMS.periodMinutes);
  const fleetPeriod = Duration.minutes(ALARMS.fleetWatchMinutes);
  /** One of our EMF metrics: the export function's unless `of` names another service and its period. */
  const ours = (metricName: string, statistic: string, label = metricName, of: { dimensions?: Record<string, string>; service?: string; period?: Duration } = {}) =>
    new cw.Metric({ namespace: METRICS.namespace, metricName, dimensionsMap: { service: of.service ?? METRICS.service, ...of.dimensions }, statistic, period: of.period ?? period, label });
  const fleet = { service: METRICS.fleetService, period: fleetPeriod };
  // The handler emits ExportRejected only with a code dimension, so the total is their sum.
  const rejectedByCode = ERROR_CODES.map((code) => ours('ExportRejected', 'Sum', code, { dimensions: { code } }));
  return {
    period,
    queue,
    fn,
    oldestMessage: queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' }),
    dlqDepth: dlq.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'DLQ messages' }),
    exportFailed: ours('ExportFailed', 'Sum', 'Transient failures'),
    lambdaErrors: fn.metricErrors({ period, statistic: 'Sum' }),
    rejectedByCode,
    rejected: new cw.MathExpression({
      expression: `SUM([${rejectedByCode.map((_, i) => `r${i}`).join(',')}])`,
      usingMetrics: Object.fromEntries(rejectedByCode.map((metric, i) => [`r${i}`, metric])),
      label: 'Rejected',
      period,
    }),
    ours,
    missingBlobs: ours('MissingBlobs', 'Sum', 'Blobs missing or of another size'),
    blobCheckFailed: ours('BlobCheckFailed', 'Sum', 'Blob checks that could not run'),
    silentHosts: ours('SilentHosts', 'Maximum', 'Silent hosts', fleet),
    hostsSeen: ours('HostsSeen', 'Maximum', 'Hosts with receipts', fleet),
    fleetWatchErrors: fleetWatch.function.metricErrors({ period: fleetPeriod, statistic: 'Sum' }),
  };
}

function alarmTopic(scope: Construct, emails: string[]): sns.Topic {
  const topic = new sns.Topic(scope, 'AlarmTopic', { displayName: 'snapmeta alarms', enforceSSL: true });
  for (const email of emails) topic.addSubscription(new EmailSubscription(email));
  Validations.of(topic).acknowledge({
    id: 'AwsSolutions-SNS2',
    reason:
      'Alarm notifications carry alarm names and states only. CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a customer key would only add cost.',
  });
  return topic;
}

function alarmsOn(scope: Construct, m: Metrics): cw.Alarm[] {
  const alarm = (id: string, metric: cw.IMetric, threshold: number, description: string) =>
    new cw.Alarm(scope, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
  return [
    alarm('DlqNotEmpty', m.dlqDepth, 1, 'Uploads failed every retry and wait in the DLQ: fix the cause, then replay (snapmeta dlq list, snapmeta dlq replay).'),
    alarm('OldestMessageTooOld', m.oldestMessage, ALARMS.oldestMessageAgeSeconds, 'Uploads wait in the queue longer than expected: exports are stuck or throttled.'),
    alarm('FunctionErrors', m.lambdaErrors, 1, 'The export function crashed or timed out.'),
    alarm('ExportFailures', m.exportFailed, ALARMS.exportFailures, 'Exports fail with transient errors (they are retried, then go to the DLQ).'),
    alarm('BlobsMissing', m.missingBlobs, 1, 'A published export names blobs the backup bucket lacks (or holds at another size): that snapshot cannot be restored in full. Receipts list them; snapmeta verify rechecks.'),
    alarm('HostsSilent', m.silentHosts, 1, 'Hosts published nothing for longer than the silent threshold: their backups may have stopped. snapmeta status lists them.'),
    alarm('FleetWatchErrors', m.fleetWatchErrors, 1, 'The fleet watch could not count silent hosts.'),
  ];
}

function addWidgets(dashboard: cw.Dashboard, m: Metrics, timeoutMs: number): void {
  const graph = (title: string, left: cw.IMetric[], extra: Partial<cw.GraphWidgetProps> = {}) =>
    new cw.GraphWidget({ title, left, width: 8, height: 6, ...extra });
  const { ours, fn, queue, period } = m;
  dashboard.addWidgets(
    graph('Exports', [ours('ExportSucceeded', 'Sum', 'Succeeded'), ours('DuplicateSkipped', 'Sum', 'Duplicates skipped'), m.rejected]),
    graph('Rejections by code', m.rejectedByCode, { stacked: true }),
    graph('Transient failures and Lambda errors', [m.exportFailed, m.lambdaErrors, fn.metricThrottles({ period, statistic: 'Sum' })]),
  );
  dashboard.addWidgets(
    graph('Duration against the timeout', [
      ours('ExportDurationMs', 'p50', 'Export p50'),
      ours('ExportDurationMs', 'p99', 'Export p99'),
      fn.metricDuration({ period, statistic: 'p99', label: 'Lambda p99' }),
    ], { leftAnnotations: [{ value: timeoutMs, label: 'Function timeout', color: cw.Color.RED }] }),
    graph('Stage durations p99', [new cw.MathExpression({
      expression: `SEARCH('{${METRICS.namespace},service,stage} MetricName="StageDurationMs" service="${METRICS.service}"', 'p99', ${period.toSeconds()})`,
      label: '',
      period,
    })]),
    graph('Bytes in and out', [ours('InputBytes', 'Sum', 'Input bytes'), ours('OutputBytes', 'Sum', 'Output bytes')], { right: [ours('RowsKept', 'Sum', 'Rows kept')] }),
  );
  dashboard.addWidgets(
    graph('Queue depth', [
      queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'Waiting' }),
      queue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Maximum', label: 'In flight' }),
    ]),
    graph('Age of oldest message (s)', [m.oldestMessage], { leftAnnotations: [{ value: ALARMS.oldestMessageAgeSeconds, label: 'Alarm', color: cw.Color.RED }] }),
    graph('DLQ depth', [m.dlqDepth]),
  );
  dashboard.addWidgets(
    graph('Blobs the exports name, missing from the bucket', [m.missingBlobs, m.blobCheckFailed]),
    graph('Hosts', [m.silentHosts, m.hostsSeen], { leftAnnotations: [{ value: 1, label: 'Alarm', color: cw.Color.RED }] }),
    graph('Fleet watch errors', [m.fleetWatchErrors]),
  );
}
