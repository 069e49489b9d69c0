// What an export's outcome leaves behind in CloudWatch: a log line with the
// receipt, and the EMF metrics the dashboard and alarms read (infra/monitoring.ts).
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { UploadOutcome } from '../lib/service/process-upload.ts';
import type { Receipt } from '../lib/service/receipts.ts';

export function reportOutcome(outcome: UploadOutcome, logger: Logger, metrics: Metrics): void {
  switch (outcome.status) {
    case 'ignored':
      logger.info('not a staged upload (outside incoming/): ignored');
      return;
    case 'gone':
      logger.info('staged upload no longer exists (already exported, or removed): nothing to do');
      return;
    case 'rejected': {
      const { code, message } = outcome.error;
      logger.warn('upload rejected', { code, error: message, receipt: outcome.receiptKey });
      const single = metrics.singleMetric();
      single.addDimension('code', code);
      single.addMetric('ExportRejected', MetricUnit.Count, 1);
      return;
    }
    case 'duplicate':
      logger.info('already published from the same upload: nothing written', { receipt: outcome.receiptKey });
      metrics.addMetric('DuplicateSkipped', MetricUnit.Count, 1);
      return;
    case 'published':
      reportPublished(outcome, logger, metrics);
  }
}

function reportPublished(outcome: Extract<UploadOutcome, { result: unknown }>, logger: Logger, metrics: Metrics): void {
  const { result, receipt } = outcome;
  const rowsKept = Object.values(result.rows).reduce((sum, rows) => sum + rows, 0);
  logger.info('export published', {
    receipt: outcome.receiptKey,
    dbKey: result.dbKey,
    rowsKept,
    bytesIn: result.bytesIn,
    bytesOut: result.bytesOut,
    timingsMs: receipt.timings_ms,
  });
  metrics.addMetric('ExportSucceeded', MetricUnit.Count, 1);
  metrics.addMetric('InputBytes', MetricUnit.Bytes, result.bytesIn);
  metrics.addMetric('OutputBytes', MetricUnit.Bytes, result.bytesOut);
  metrics.addMetric('RowsKept', MetricUnit.Count, rowsKept);
  metrics.addMetric('ExportDurationMs', MetricUnit.Milliseconds, outcome.durationMs);
  reportBlobsCheck(receipt, logger, metrics);
  for (const [stage, ms] of Object.entries(receipt.timings_ms)) {
    const single = metrics.singleMetric();
    single.addDimension('stage', stage);
    single.addMetric('StageDurationMs', MetricUnit.Milliseconds, ms);
  }
}

/** Missing blobs make the export useless though it is correct: a metric with an alarm, and a warning. */
function reportBlobsCheck({ blobs_check: check }: Receipt, logger: Logger, metrics: Metrics): void {
  if (!check) return;
  if ('error' in check) {
    logger.warn('the export is published, but its blobs could not be checked', { error: check.error });
    metrics.addMetric('BlobCheckFailed', MetricUnit.Count, 1);
    return;
  }
  metrics.addMetric('MissingBlobs', MetricUnit.Count, check.missing + check.sizeMismatches);
  if (check.missing || check.sizeMismatches) {
    logger.warn('blobs the export names are missing from the backup bucket, or have another size', {
      missing: check.missing, sizeMismatches: check.sizeMismatches, missingSample: check.missingSample.slice(0, 5),
    });
  }
}
