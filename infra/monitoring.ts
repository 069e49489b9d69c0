// The dashboard and alarms. Export metrics are the handler's EMF metrics
// (namespace Snapmeta, dimension service); queue and Lambda metrics are AWS's.
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
    const period = Duration.minutes(ALARMS.periodMinutes);
    const exportMetric = (metricName: string, statistic: string, label = metricName, extra: Record<string, string> = {}) =>
      new cw.Metric({
        namespace: METRICS.namespace,
        metricName,
        dimensionsMap: { service: METRICS.service, ...extra },
        statistic,
        period,
        label,
      });
    const { queue, dlq, function: fn } = pipeline;
    const missingBlobs = exportMetric('MissingBlobs', 'Sum', 'Blobs missing or of another size');
    const blobCheckFailed = exportMetric('BlobCheckFailed', 'Sum', 'Blob checks that could not run');
    const fleetPeriod = Duration.minutes(ALARMS.fleetWatchMinutes);
    const fleetMetric = (metricName: string, label: string) => new cw.Metric({
      namespace: METRICS.namespace, metricName, dimensionsMap: { service: METRICS.fleetService }, statistic: 'Maximum', period: fleetPeriod, label,
    });
    const silentHosts = fleetMetric('SilentHosts', 'Silent hosts');
    const fleetWatchErrors = fleetWatch.function.metricErrors({ period: fleetPeriod, statistic: 'Sum' });
    const oldestMessage = queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' });
    const dlqDepth = dlq.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'DLQ messages' });
    const exportFailed = exportMetric('ExportFailed', 'Sum', 'Transient failures');
    const lambdaErrors = fn.metricErrors({ period, statistic: 'Sum' });
    // The handler emits ExportRejected only with a code dimension, so the total is their sum.
    const rejectedByCode = ERROR_CODES.map((code) => exportMetric('ExportRejected', 'Sum', code, { code }));
    const rejected = new cw.MathExpression({
      expression: `SUM([${rejectedByCode.map((_, i) => `r${i}`).join(',')}])`,
      usingMetrics: Object.fromEntries(rejectedByCode.map((m, i) => [`r${i}`, m])),
      label: 'Rejected',
      period,
    });

    this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'snapmeta alarms', enforceSSL: true });
    for (const email of alarmEmails) this.topic.addSubscription(new EmailSubscription(email));
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and states only. CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a customer key would only add cost.',
    });

    const alarm = (id: string, metric: cw.IMetric, threshold: number, description: string) =>
      new cw.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
    this.alarms = [
      alarm('DlqNotEmpty', dlqDepth, 1, 'Uploads failed every retry and wait in the DLQ: fix the cause, then replay (docs/deploy.md).'),
      alarm('OldestMessageTooOld', oldestMessage, ALARMS.oldestMessageAgeSeconds, 'Uploads wait in the queue longer than expected: exports are stuck or throttled.'),
      alarm('FunctionErrors', lambdaErrors, 1, 'The export function crashed or timed out.'),
      alarm('ExportFailures', exportFailed, ALARMS.exportFailures, 'Exports fail with transient errors (they are retried, then go to the DLQ).'),
      alarm('BlobsMissing', missingBlobs, 1, 'A published export names blobs the backup bucket lacks (or holds at another size): that snapshot cannot be restored in full. Receipts list them; snapmeta verify rechecks.'),
      alarm('HostsSilent', silentHosts, 1, 'Hosts published nothing for longer than the silent threshold: their backups may have stopped. snapmeta status lists them.'),
      alarm('FleetWatchErrors', fleetWatchErrors, 1, 'The fleet watch could not count silent hosts.'),
    ];
    const action = new SnsAction(this.topic);
    for (const a of this.alarms) {
      a.addAlarmAction(action);
      a.addOkAction(action);
    }

    const timeoutMs = timeoutSeconds * 1000;
    const graph = (title: string, left: cw.IMetric[], extra: Partial<cw.GraphWidgetProps> = {}) =>
      new cw.GraphWidget({ title, left, width: 8, height: 6, ...extra });
    this.dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(1) });
    this.dashboard.addWidgets(
      graph('Exports', [
        exportMetric('ExportSucceeded', 'Sum', 'Succeeded'),
        exportMetric('DuplicateSkipped', 'Sum', 'Duplicates skipped'),
        rejected,
      ]),
      graph('Rejections by code', rejectedByCode, { stacked: true }),
      graph('Transient failures and Lambda errors', [exportFailed, lambdaErrors, fn.metricThrottles({ period, statistic: 'Sum' })]),
    );
    this.dashboard.addWidgets(
      graph(
        'Duration against the timeout',
        [
          exportMetric('ExportDurationMs', 'p50', 'Export p50'),
          exportMetric('ExportDurationMs', 'p99', 'Export p99'),
          fn.metricDuration({ period, statistic: 'p99', label: 'Lambda p99' }),
        ],
        { leftAnnotations: [{ value: timeoutMs, label: 'Function timeout', color: cw.Color.RED }] },
      ),
      graph('Stage durations p99', [
        new cw.MathExpression({
          expression: `SEARCH('{${METRICS.namespace},service,stage} MetricName="StageDurationMs" service="${METRICS.service}"', 'p99', ${period.toSeconds()})`,
          label: '',
          period,
        }),
      ]),
      graph('Bytes in and out', [exportMetric('InputBytes', 'Sum', 'Input bytes'), exportMetric('OutputBytes', 'Sum', 'Output bytes')], {
        right: [exportMetric('RowsKept', 'Sum', 'Rows kept')],
      }),
    );
    this.dashboard.addWidgets(
      graph('Queue depth', [
        queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'Waiting' }),
        queue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Maximum', label: 'In flight' }),
      ]),
      graph('Age of oldest message (s)', [oldestMessage], {
        leftAnnotations: [{ value: ALARMS.oldestMessageAgeSeconds, label: 'Alarm', color: cw.Color.RED }],
      }),
      graph('DLQ depth', [dlqDepth]),
    );
    this.dashboard.addWidgets(
      graph('Blobs the exports name, missing from the bucket', [missingBlobs, blobCheckFailed]),
      graph('Hosts', [silentHosts, fleetMetric('HostsSeen', 'Hosts with receipts')], {
        leftAnnotations: [{ value: 1, label: 'Alarm', color: cw.Color.RED }],
      }),
      graph('Fleet watch errors', [fleetWatchErrors]),
    );
    this.dashboard.addWidgets(new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
  }
}
