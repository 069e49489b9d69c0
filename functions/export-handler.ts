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
import { processUpload, workerSettings, type StagedObjectRef } from '../lib/service/process-upload.ts';
import { reportOutcome } from './export-report.ts';
import { sharedExportWorkers, type ExportWorkers } from '../lib/pipeline/worker-export.ts';
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

/**
 * The export function's handler: one SQS record at a time, each S3 object in
 * it exported by processUpload under the deadline; outcomes become logs and
 * metrics, failures a note and a retry.
 */
export function createExportHandler(deps: ExportHandlerDeps): ExportHandler {
  const workers = deps.workers ?? sharedExportWorkers(workerSettings(deps.config));
  void workers.warm();
  const parts: HandlerParts = {
    config: deps.config,
    s3: deps.s3,
    logger: deps.logger ?? new Logger({ serviceName: METRICS.service }),
    metrics: deps.metrics ?? new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.service }),
    marginMs: deps.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS,
    workers,
  };
  const { logger, metrics } = parts;
  const processor = new BatchProcessor(EventType.SQS);

  // Records one at a time: each holds a whole index database in memory.
  async function recordHandler(record: SQSRecord, context: Context): Promise<void> {
    try {
      const attempt = Number(record.attributes.ApproximateReceiveCount) || 1;
      for (const ref of objectsCreated(record.body)) await exportObject(parts, ref, context, attempt);
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

interface HandlerParts {
  config: ExportConfig;
  s3: S3Client;
  logger: Logger;
  metrics: Metrics;
  marginMs: number;
  workers: ExportWorkers;
}

/** One S3 object of a record: exported under the deadline; a failure is noted, then thrown for a retry. */
async function exportObject(parts: HandlerParts, ref: StagedObjectRef, context: Context, attempt: number): Promise<void> {
  const { config, s3, logger, marginMs } = parts;
  if (config.stagingBucket && ref.bucket !== config.stagingBucket) {
    logger.warn('event from another bucket ignored', { bucket: ref.bucket, stagingBucket: config.stagingBucket });
    return;
  }
  const remainingMs = context.getRemainingTimeInMillis();
  const deadline = deadlineSignal(remainingMs, marginMs);
  try {
    const recipients = config.currentRecipients ? await config.currentRecipients(logger) : config.recipients;
    reportOutcome(await processUpload(ref, {
      s3,
      config: { ...config, recipients },
      signal: deadline.signal,
      // A stopped export's receipt is written in the margin the deadline left.
      receiptSignal: AbortSignal.timeout(remainingMs - Math.min(1000, marginMs / 2)),
      receiveCount: attempt,
      workers: parts.workers,
      log: logger,
    }), logger, parts.metrics);
  } catch (err) {
    // Kept beside the receipts: what `snapmeta dlq list` shows for a parked message.
    await noteFailure(s3, ref, err, attempt);
    throw err;
  } finally {
    deadline.clear();
  }
}

/** Aborts `marginMs` before the Lambda deadline, so the record fails cleanly (and is retried) instead of being killed mid-write. */
function deadlineSignal(remainingMs: number, marginMs: number): { signal: AbortSignal; clear(): void } {
  const budgetMs = remainingMs - marginMs;
  if (budgetMs <= 0) throw new Error('too close to the Lambda deadline to start an export; the message will be retried');
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error(`the export's time is up, ${marginMs} ms before the Lambda deadline`)), budgetMs);
  return { signal: deadline.signal, clear: () => clearTimeout(timer) };
}
