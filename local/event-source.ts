// What Lambda's SQS event source mapping does, for a local queue: long-poll a
// batch, invoke the handler with a real-shaped SQSEvent and a context whose
// deadline is the function timeout, delete the messages that succeeded, and
// leave the failed ones to reappear after the visibility timeout. The DLQ is
// the queue's own RedrivePolicy, applied by the SQS server on receive.
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { DEFAULT_FUNCTION } from '../lib/service/settings.ts';

export interface InvocationReport {
  records: number;
  failed: number;
  /** Set when the invocation as a whole failed (threw, or overran its timeout). */
  error?: unknown;
}

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;
  batchSize: number;
  functionTimeoutMs: number;
  functionMemoryMb?: number;
  functionName?: string;
  onInvoke?: (report: InvocationReport) => void;
  onError?: (err: unknown) => void;
}

export class SqsEventSource {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: SqsEventSourceOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops polling; an invocation in progress runs to its end first. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { sqs, queueUrl, batchSize, onError } = this.options;
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: 20,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: signal },
        );
        messages = out.Messages ?? [];
      } catch (err) {
        if (signal.aborted) return;
        onError?.(err);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (messages.length) await this.invoke(messages);
    }
  }

  private async invoke(messages: Message[]): Promise<void> {
    const { sqs, queueUrl, handler, functionTimeoutMs, onInvoke, onError } = this.options;
    const event: SQSEvent = { Records: messages.map((m) => this.record(m)) };
    const deadline = Date.now() + functionTimeoutMs;
    let failed: Set<string>;
    let error: unknown;
    try {
      const response = await handler(event, this.context(deadline));
      failed = new Set(response?.batchItemFailures.map((f) => f.itemIdentifier));
      // Lambda would have killed an invocation that overran: none of it counts.
      if (Date.now() > deadline) error = new Error(`invocation exceeded the ${functionTimeoutMs} ms function timeout`);
    } catch (err) {
      error = err;
    }
    if (error) failed = new Set(messages.map((m) => m.MessageId!));
    const done = messages.filter((m) => !failed!.has(m.MessageId!));
    if (done.length) {
      try {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      } catch (err) {
        // As in AWS: an undeleted message is simply delivered again.
        onError?.(err);
      }
    }
    onInvoke?.({ records: messages.length, failed: failed!.size, error });
  }

  private record(m: Message): SQSRecord {
    const a = m.Attributes ?? {};
    return {
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
        SentTimestamp: a.SentTimestamp ?? String(Date.now()),
        SenderId: a.SenderId ?? '000000000000',
        ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: this.options.queueArn,
      awsRegion: this.options.region,
    };
  }

  private context(deadline: number): Context {
    const functionName = this.options.functionName ?? 'snapmeta-export';
    const unsupported = () => {
      throw new Error('callback-style completion is not supported');
    };
    return {
      callbackWaitsForEmptyEventLoop: false,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${this.options.region}:000000000000:function:${functionName}`,
      memoryLimitInMB: String(this.options.functionMemoryMb ?? DEFAULT_FUNCTION.memoryMb),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: unsupported,
      fail: unsupported,
      succeed: unsupported,
    };
  }
}
