// The whole pipeline on one machine: fauxqs on loopback with the staging and
// backup buckets and the queue + DLQ as infra/settings.ts defines them, the S3
// event bridge, and the SQS event-source emulator invoking the export Lambda's
// own handler. `npm start` and the integration tests both run this.
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { DEFAULT_FUNCTION, LOCAL_NAMES, NOTIFICATION_FILTER, QUEUE } from '../lib/service/settings.ts';
import { RECEIPT_PREFIXES, type KeyScheme } from '../lib/core/keys.ts';
import type { DbFormat } from '../lib/core/manifest.ts';
import type { ErrorCode } from '../lib/core/errors.ts';
import { readReceipt, type Receipt } from '../lib/service/receipts.ts';
import { createS3Client, createSqsClient, localConnection } from '../lib/service/aws-clients.ts';
import { S3MetadataStore } from '../lib/stores/s3-store.ts';
import { createExportHandler, type ExportHandler } from '../functions/export-handler.ts';
import type { ExportWorkers } from '../lib/pipeline/worker-export.ts';
import type { ExportConfig } from '../lib/service/config.ts';
import { SqsEventSource, type InvocationReport } from './event-source.ts';
import { startLocalAwsServer, type LocalAwsServer } from './fauxqs-server.ts';
import { Pending } from './pending.ts';
import { S3EventBridge } from './s3-event-bridge.ts';

const DAY_SECONDS = 86_400;

export interface LocalStackOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  recipients: string[];
  backupPrefix?: string;
  deleteStaged?: boolean;
  maxIndexBytes?: number;
  /** As the function's SNAPMETA_FORMAT, SNAPMETA_KEY_SCHEME and SNAPMETA_ALLOW_UNNAMED_IDS; defaults as deployed. */
  format?: DbFormat;
  keyScheme?: KeyScheme;
  allowUnnamedIds?: boolean;
  /** Shorter than the deployed value in tests, so retries and the DLQ come quickly. */
  visibilityTimeoutSeconds?: number;
  functionTimeoutSeconds?: number;
  deadlineMarginMs?: number;
  /** The function's memory, as Lambda gives it in AWS_LAMBDA_FUNCTION_MEMORY_SIZE; default as deployed. */
  functionMemoryMb?: number;
  /** Where exports run (tests watch them); default the process's workers for this memory. */
  workers?: ExportWorkers;
  /** Extra deliveries of every S3 event. */
  duplicateDeliveries?: number;
  /**
   * The Lambda handler to invoke, given this server's endpoint (a test loads the
   * bundled function this way); default: the handler from functions/, in process.
   */
  handler?: (endpoint: string) => Promise<ExportHandler>;
  /** The handler's S3 client (tests wrap it to inject faults); default: a plain one for this server. */
  handlerS3?: (endpoint: string) => S3Client;
  logger?: Logger;
  metrics?: Metrics;
  /** Errors of the emulation itself (bridge, poller, receipt reads); default: stderr. */
  onError?: (err: unknown) => void;
}

export interface ReceiptSeen {
  key: string;
  receipt: Receipt;
}

export interface StackStatus {
  queueDepth: number;
  inFlight: number;
  dlqDepth: number;
  published: number;
  duplicates: number;
  rejected: Partial<Record<ErrorCode, number>>;
  /** Invocations that failed transiently (their messages retry). */
  failedInvocations: number;
}

export interface LocalStack {
  readonly endpoint: string;
  readonly port: number;
  readonly names: typeof LOCAL_NAMES;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /** Clients for this server, for callers that want to look around. */
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  /** The in-process handler's configuration: a test changes it as an operator redeploys with a new setting. */
  readonly exportConfig: ExportConfig;
  status(): Promise<StackStatus>;
  onReceipt(listener: (seen: ReceiptSeen) => void): void;
  onInvoke(listener: (report: InvocationReport) => void): void;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const server = await startLocalAwsServer({ port: options.port ?? 0 });
  try {
    return await assemble(server, options);
  } catch (err) {
    await server.close();
    throw err;
  }
}

async function assemble(server: LocalAwsServer, options: LocalStackOptions): Promise<LocalStack> {
  const conn = localConnection(server.endpoint);
  const clients = { s3: createS3Client(conn), sqs: createSqsClient(conn), region: conn.region! };
  for (const bucket of [LOCAL_NAMES.stagingBucket, LOCAL_NAMES.backupBucket]) await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const queues = await createQueues(clients.sqs, options.visibilityTimeoutSeconds ?? QUEUE.visibilityTimeoutSeconds);
  const errors = options.onError ?? ((err: unknown) => console.error('snapmeta local stack:', err));
  const outcomes = new Outcomes();

  const bridge = new S3EventBridge({
    sqs: clients.sqs,
    queueUrl: queues.queueUrl,
    region: clients.region,
    filter: { bucket: LOCAL_NAMES.stagingBucket, ...NOTIFICATION_FILTER },
    duplicates: options.duplicateDeliveries,
    onError: errors,
  });
  await bridge.sendTestEvent();
  const receiptReads = watchReceipts(server, bridge, clients.s3, outcomes, errors);

  const exportConfig = exportConfigOf(options);
  const handler = options.handler ? await options.handler(server.endpoint) : createExportHandler({
    config: exportConfig,
    workers: options.workers,
    s3: options.handlerS3?.(server.endpoint) ?? clients.s3,
    logger: options.logger,
    metrics: options.metrics,
    deadlineMarginMs: options.deadlineMarginMs,
  });
  const eventSource = new SqsEventSource({
    sqs: clients.sqs,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    region: clients.region,
    handler,
    batchSize: QUEUE.batchSize,
    functionTimeoutMs: (options.functionTimeoutSeconds ?? DEFAULT_FUNCTION.timeoutSeconds) * 1000,
    // The memory the handler is configured with (exportConfigOf), as the context reports it.
    functionMemoryMb: exportConfig.functionMemoryMb,
    onInvoke: (report) => outcomes.invoked(report),
    onError: errors,
  });
  eventSource.start();

  const stop = async () => {
    await eventSource.stop();
    await bridge.drain();
    await receiptReads.drain();
    clients.s3.destroy();
    clients.sqs.destroy();
    await server.close();
  };
  return stackOf(server, clients, queues, exportConfig, outcomes, stop);
}

function stackOf(server: LocalAwsServer, clients: { s3: S3Client; sqs: SQSClient }, queues: Queues, exportConfig: ExportConfig, outcomes: Outcomes, stop: () => Promise<void>): LocalStack {
  let stopped: Promise<void> | undefined;
  return {
    endpoint: server.endpoint,
    port: server.port,
    names: LOCAL_NAMES,
    queueUrl: queues.queueUrl,
    dlqUrl: queues.dlqUrl,
    s3: clients.s3,
    sqs: clients.sqs,
    exportConfig,
    async status() {
      const [queue, dlq] = await Promise.all([queueDepth(clients.sqs, queues.queueUrl), queueDepth(clients.sqs, queues.dlqUrl)]);
      return { queueDepth: queue.visible, inFlight: queue.inFlight, dlqDepth: dlq.visible + dlq.inFlight, ...outcomes.snapshot() };
    },
    onReceipt: (listener) => void outcomes.receiptListeners.push(listener),
    onInvoke: (listener) => void outcomes.invokeListeners.push(listener),
    stop: () => (stopped ??= stop()),
  };
}

/** What the stack has seen (receipts by status and code, failed invocations), and who listens. */
class Outcomes {
  private published = 0;
  private duplicates = 0;
  private failedInvocations = 0;
  private readonly rejected: Partial<Record<ErrorCode, number>> = {};
  readonly receiptListeners: Array<(seen: ReceiptSeen) => void> = [];
  readonly invokeListeners: Array<(report: InvocationReport) => void> = [];

  receipt(seen: ReceiptSeen): void {
    const { status, error } = seen.receipt;
    if (status === 'published') this.published++;
    else if (status === 'duplicate') this.duplicates++;
    else if (error) this.rejected[error.code] = (this.rejected[error.code] ?? 0) + 1;
    for (const listener of this.receiptListeners) listener(seen);
  }

  invoked(report: InvocationReport): void {
    if (report.failed) this.failedInvocations++;
    for (const listener of this.invokeListeners) listener(report);
  }

  snapshot() {
    const { published, duplicates, failedInvocations } = this;
    return { published, duplicates, failedInvocations, rejected: { ...this.rejected } };
  }
}

/**
 * Every object created goes to the event bridge; receipts, what an agent
 * sees, are also read and counted as they are written.
 */
function watchReceipts(server: LocalAwsServer, bridge: S3EventBridge, s3: S3Client, outcomes: Outcomes, errors: (err: unknown) => void): Pending {
  const reads = new Pending();
  const staging = new S3MetadataStore(s3, LOCAL_NAMES.stagingBucket);
  const read = async (key: string) => {
    const receipt = await readReceipt(staging, key);
    if (receipt) outcomes.receipt({ key, receipt });
  };
  server.onObjectCreated((obj) => {
    bridge.notify(obj);
    if (obj.bucket === LOCAL_NAMES.stagingBucket && RECEIPT_PREFIXES.some((prefix) => obj.key.startsWith(prefix))) reads.track(read(obj.key), errors);
  });
  return reads;
}

/** The function's configuration as deployed, with the options a test or the CLI chose. */
function exportConfigOf(options: LocalStackOptions): ExportConfig {
  return {
    recipients: options.recipients,
    backupBucket: LOCAL_NAMES.backupBucket,
    backupPrefix: options.backupPrefix ?? '',
    deleteStaged: options.deleteStaged ?? DEFAULT_FUNCTION.deleteStaged,
    maxIndexBytes: options.maxIndexBytes ?? DEFAULT_FUNCTION.maxIndexBytes,
    format: options.format ?? DEFAULT_FUNCTION.format,
    keyScheme: options.keyScheme ?? DEFAULT_FUNCTION.keyScheme,
    allowUnnamedIds: options.allowUnnamedIds ?? DEFAULT_FUNCTION.allowUnnamedIds,
    functionMemoryMb: options.functionMemoryMb ?? DEFAULT_FUNCTION.memoryMb,
    stagingBucket: LOCAL_NAMES.stagingBucket,
  };
}

interface Queues {
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
}

/** The queue and its DLQ with the CDK stack's settings (lib/service/settings.ts). */
async function createQueues(sqs: SQSClient, visibilityTimeoutSeconds: number): Promise<Queues> {
  const dlq = await sqs.send(new CreateQueueCommand({
    QueueName: LOCAL_NAMES.dlq,
    Attributes: { MessageRetentionPeriod: String(QUEUE.dlqRetentionDays * DAY_SECONDS) },
  }));
  const dlqArn = await queueArnOf(sqs, dlq.QueueUrl!);
  const queue = await sqs.send(new CreateQueueCommand({
    QueueName: LOCAL_NAMES.queue,
    Attributes: {
      VisibilityTimeout: String(visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(QUEUE.retentionDays * DAY_SECONDS),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: QUEUE.maxReceiveCount }),
    },
  }));
  return { queueUrl: queue.QueueUrl!, queueArn: await queueArnOf(sqs, queue.QueueUrl!), dlqUrl: dlq.QueueUrl! };
}

async function queueArnOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return out.Attributes!.QueueArn!;
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}
