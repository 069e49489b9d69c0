// The export Lambda's handler, built from its dependencies so the local stack
// and the tests run the very same middy chain as AWS. Thin: the work is
// lib/service/process-upload.ts; here are SQS batching, the deadline, logs and metrics.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { METRICS } from '../lib/service/settings.ts';
import { noteFailure } from '../lib/service/failures.ts';
import { processUpload, workerSettings, type StagedObjectRef, type UploadOutcome } from '../lib/service/process-upload.ts';
import { sharedExportWorkers, type ExportWorkers } from '../lib/pipeline/worker-export.ts';
import type { Receipt } from '../lib/service/receipts.ts';
import type { ExportConfig } from '../lib/service/config.ts';
import { objectsCreated } from '../lib/service/s3-events.ts';

export interface ExportHandlerDeps {
  config: ExportConfig;
  s3: S3Client;
  logger?: Logger;
  metrics?: Metrics;
  /**
   * How long before the Lambda deadline work stops, so the record fails
   * cleanly (and is retried) instead of the runtime killing it mid-write.
   */
  deadlineMarginMs?: number;
  /** Where exports run; default the process's own workers, one started now so a cold start pays for it. */
  workers?: ExportWorkers;
}

export type ExportHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const DEFAULT_DEADLINE_MARGIN_MS = 10_000;
const RECORD_KEYS = ['key', 'host', 'snapshotId'];

export function createExportHandler(deps: ExportHandlerDeps): ExportHandler {
  const { config, s3 } = deps;
  const logger = deps.logger ?? new Logger({ serviceName: METRICS.service });
  const metrics = deps.metrics ?? new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.service });
  const marginMs = deps.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  const processor = new BatchProcessor(EventType.SQS);
  const workers = deps.workers ?? sharedExportWorkers(workerSettings(config));
  void workers.warm();

  async function exportObject(ref: StagedObjectRef, context: Context, attempt: number): Promise<void> {
    if (config.stagingBucket && ref.bucket !== config.stagingBucket) {
      logger.warn('event from another bucket ignored', { bucket: ref.bucket, stagingBucket: config.stagingBucket });
      return;
    }
    const remainingMs = context.getRemainingTimeInMillis();
    const budgetMs = remainingMs - marginMs;
    if (budgetMs <= 0) throw new Error('too close to the Lambda deadline to start an export; the message will be retried');
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error(`the export's time is up, ${marginMs} ms before the Lambda deadline`)),
      budgetMs,
    );
    try {
      const recipients = config.currentRecipients ? await config.currentRecipients(logger) : config.recipients;
      report(await processUpload(ref, {
        s3,
        config: { ...config, recipients },
        signal: deadline.signal,
        // A stopped export's receipt is written in the margin the deadline left.
        receiptSignal: AbortSignal.timeout(remainingMs - Math.min(1000, marginMs / 2)),
        receiveCount: attempt,
        workers,
        log: logger,
      }));
    } catch (err) {
      // Kept beside the receipts: what `snapmeta dlq list` shows for a parked message.
      await noteFailure(s3, ref, err, attempt);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  function report(outcome: UploadOutcome): void {
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
      case 'published': {
        const { result } = outcome;
        const rowsKept = Object.values(result.rows).reduce((a, b) => a + b, 0);
        logger.info('export published', {
          receipt: outcome.receiptKey,
          dbKey: result.dbKey,
          rowsKept,
          bytesIn: result.bytesIn,
          bytesOut: result.bytesOut,
          timingsMs: outcome.receipt.timings_ms,
        });
        metrics.addMetric('ExportSucceeded', MetricUnit.Count, 1);
        metrics.addMetric('InputBytes', MetricUnit.Bytes, result.bytesIn);
        metrics.addMetric('OutputBytes', MetricUnit.Bytes, result.bytesOut);
        metrics.addMetric('RowsKept', MetricUnit.Count, rowsKept);
        metrics.addMetric('ExportDurationMs', MetricUnit.Milliseconds, outcome.durationMs);
        reportBlobsCheck(outcome.receipt);
        for (const [stage, ms] of Object.entries(outcome.receipt.timings_ms)) {
          const single = metrics.singleMetric();
          single.addDimension('stage', stage);
          single.addMetric('StageDurationMs', MetricUnit.Milliseconds, ms);
        }
      }
    }
  }

  /** Missing blobs make the export useless though it is correct: a metric with an alarm, and a warning. */
  function reportBlobsCheck({ blobs_check: check }: Receipt): void {
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

  // Records one at a time: each holds a whole index database in memory.
  async function recordHandler(record: SQSRecord, context: Context): Promise<void> {
    try {
      const attempt = Number(record.attributes.ApproximateReceiveCount) || 1;
      for (const ref of objectsCreated(record.body)) await exportObject(ref, context, attempt);
    } catch (err) {
      // Transient (S3, throttling, the deadline) or not an S3 event at all:
      // fail the record so SQS retries it, and after the redrive limit parks it in the DLQ.
      logger.error('export failed; the message will be retried', { messageId: record.messageId, error: err as Error });
      metrics.addMetric('ExportFailed', MetricUnit.Count, 1);
      throw err;
    } finally {
      logger.removeKeys(RECORD_KEYS);
    }
  }

  async function lambdaHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    try {
      return await processPartialResponse(event, (record: SQSRecord) => recordHandler(record, context), processor, {
        context,
        processInParallel: false,
        // Report every failed record as a batch item failure, even all of them:
        // the outcome for SQS is the same, without an invocation error per poison upload.
        throwOnFullBatchFailure: false,
      });
    } finally {
      // Flushed by hand rather than by logMetrics(): a batch of only test
      // events or rejections (single metrics, already out) has nothing to add.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  }

  return middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })) as unknown as ExportHandler;
}
