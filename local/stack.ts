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
  const s3 = createS3Client(conn);
  const sqs = createSqsClient(conn);
  const names = LOCAL_NAMES;
  const region = conn.region!;

  for (const bucket of [names.stagingBucket, names.backupBucket]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const { queueUrl, queueArn, dlqUrl } = await createQueues(sqs, options.visibilityTimeoutSeconds ?? QUEUE.visibilityTimeoutSeconds);

  const counts = { published: 0, duplicates: 0, failedInvocations: 0, rejected: {} as Partial<Record<ErrorCode, number>> };
  const receiptListeners: Array<(seen: ReceiptSeen) => void> = [];
  const invokeListeners: Array<(report: InvocationReport) => void> = [];
  const errors = options.onError ?? ((err: unknown) => console.error('snapmeta local stack:', err));

  const bridge = new S3EventBridge({
    sqs,
    queueUrl,
    region,
    filter: { bucket: names.stagingBucket, ...NOTIFICATION_FILTER },
    duplicates: options.duplicateDeliveries,
    onError: errors,
  });
  await bridge.sendTestEvent();

  // Receipts are what an agent sees; the status counts them as they are written.
  const receiptReads = new Pending();
  const staging = new S3MetadataStore(s3, names.stagingBucket);
  const watchReceipt = async (key: string) => {
    const receipt = await readReceipt(staging, key);
    if (!receipt) return;
    if (receipt.status === 'published') counts.published++;
    else if (receipt.status === 'duplicate') counts.duplicates++;
    else if (receipt.error) counts.rejected[receipt.error.code] = (counts.rejected[receipt.error.code] ?? 0) + 1;
    for (const listener of receiptListeners) listener({ key, receipt });
  };
  server.onObjectCreated((obj) => {
    bridge.notify(obj);
    if (obj.bucket === names.stagingBucket && RECEIPT_PREFIXES.some((p) => obj.key.startsWith(p))) {
      receiptReads.track(watchReceipt(obj.key), errors);
    }
  });

  const exportConfig: ExportConfig = {
    recipients: options.recipients,
    backupBucket: names.backupBucket,
    backupPrefix: options.backupPrefix ?? '',
    deleteStaged: options.deleteStaged ?? DEFAULT_FUNCTION.deleteStaged,
    maxIndexBytes: options.maxIndexBytes ?? DEFAULT_FUNCTION.maxIndexBytes,
    format: options.format ?? DEFAULT_FUNCTION.format,
    keyScheme: options.keyScheme ?? DEFAULT_FUNCTION.keyScheme,
    allowUnnamedIds: options.allowUnnamedIds ?? DEFAULT_FUNCTION.allowUnnamedIds,
    stagingBucket: names.stagingBucket,
  };
  const handler = options.handler ? await options.handler(server.endpoint) : createExportHandler({
    config: exportConfig,
    s3: options.handlerS3?.(server.endpoint) ?? s3,
    logger: options.logger,
    metrics: options.metrics,
    deadlineMarginMs: options.deadlineMarginMs,
  });
  const eventSource = new SqsEventSource({
    sqs,
    queueUrl,
    queueArn,
    region,
    handler,
    batchSize: QUEUE.batchSize,
    functionTimeoutMs: (options.functionTimeoutSeconds ?? DEFAULT_FUNCTION.timeoutSeconds) * 1000,
    onInvoke: (report) => {
      if (report.failed) counts.failedInvocations++;
      for (const listener of invokeListeners) listener(report);
    },
    onError: errors,
  });
  eventSource.start();

  let stopped: Promise<void> | undefined;
  return {
    endpoint: server.endpoint,
    port: server.port,
    names,
    queueUrl,
    dlqUrl,
    s3,
    sqs,
    exportConfig,
    async status() {
      const [queue, dlq] = await Promise.all([queueDepth(sqs, queueUrl), queueDepth(sqs, dlqUrl)]);
      return {
        queueDepth: queue.visible,
        inFlight: queue.inFlight,
        dlqDepth: dlq.visible + dlq.inFlight,
        ...counts,
        rejected: { ...counts.rejected },
      };
    },
    onReceipt: (listener) => void receiptListeners.push(listener),
    onInvoke: (listener) => void invokeListeners.push(listener),
    stop() {
      stopped ??= (async () => {
        await eventSource.stop();
        await bridge.drain();
        await receiptReads.drain();
        s3.destroy();
        sqs.destroy();
        await server.close();
      })();
      return stopped;
    },
  };

  async function createQueues(sqs: SQSClient, visibilityTimeoutSeconds: number) {
    const dlq = await sqs.send(
      new CreateQueueCommand({
        QueueName: names.dlq,
        Attributes: { MessageRetentionPeriod: String(QUEUE.dlqRetentionDays * DAY_SECONDS) },
      }),
    );
    const dlqArn = await queueArnOf(sqs, dlq.QueueUrl!);
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: names.queue,
        Attributes: {
          VisibilityTimeout: String(visibilityTimeoutSeconds),
          MessageRetentionPeriod: String(QUEUE.retentionDays * DAY_SECONDS),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: QUEUE.maxReceiveCount }),
        },
      }),
    );
    return { queueUrl: queue.QueueUrl!, queueArn: await queueArnOf(sqs, queue.QueueUrl!), dlqUrl: dlq.QueueUrl! };
  }
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
