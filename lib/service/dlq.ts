// The dead-letter queue from an operator's side: what is parked there (each
// message's upload and its last error), and moving it all back to the queue
// after the cause is fixed, with SQS's own message-move task, as AWS documents.
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import { decodeEventKey } from '../core/keys.ts';
import { S3MetadataStore } from '../stores/s3-store.ts';
import { failureKeyOf, readFailureNote, type FailureNote } from './failures.ts';
import { objectsCreated } from './s3-events.ts';

export interface DeadLetter {
  messageId: string;
  /** When the upload's event was first sent (SQS keeps it through the move to the DLQ). */
  sentAt?: Date;
  receiveCount: number;
  uploads: { bucket: string; key: string; lastFailure?: FailureNote }[];
  /** Set when the body is not an S3 event notification. */
  unreadable?: string;
}

// Long enough to read the whole queue once without seeing a message twice.
const PEEK_SECONDS = 30;

/**
 * Every message in the DLQ, with the last failure the function noted for its
 * upload. Messages are hidden while read, then made visible again at once.
 */
export async function listDeadLetters(sqs: SQSClient, dlqUrl: string, s3: S3Client): Promise<DeadLetter[]> {
  const messages: Message[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: PEEK_SECONDS, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'],
    }));
    if (!out.Messages?.length) break;
    messages.push(...out.Messages);
  }
  try {
    return await Promise.all(messages.map((message) => deadLetterOf(message, s3)));
  } finally {
    await release(sqs, dlqUrl, messages);
  }
}

async function deadLetterOf(message: Message, s3: S3Client): Promise<DeadLetter> {
  const attributes = message.Attributes ?? {};
  const letter: DeadLetter = {
    messageId: message.MessageId!,
    sentAt: attributes.SentTimestamp ? new Date(Number(attributes.SentTimestamp)) : undefined,
    receiveCount: Number(attributes.ApproximateReceiveCount ?? 0),
    uploads: [],
  };
  try {
    for (const ref of objectsCreated(message.Body ?? '')) {
      const key = decodeEventKey(ref.encodedKey);
      const noteKey = failureKeyOf(key);
      const lastFailure = noteKey ? await readFailureNote(new S3MetadataStore(s3, ref.bucket), noteKey) : undefined;
      letter.uploads.push({ bucket: ref.bucket, key, lastFailure });
    }
  } catch (err) {
    letter.unreadable = (err as Error).message;
  }
  return letter;
}

async function release(sqs: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let at = 0; at < messages.length; at += 10) {
    const batch = messages.slice(at, at + 10);
    await sqs.send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl: queueUrl,
      Entries: batch.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 })),
    }));
  }
}

export interface MoveTask {
  taskHandle?: string;
  status: string;
  moved: number;
  toMove?: number;
  failureReason?: string;
}

/** Moves every DLQ message back to the queue it came from; with `wait`, until SQS says the task is over. */
export async function replayDeadLetters(sqs: SQSClient, dlqUrl: string, opts: { wait?: boolean; pollMs?: number } = {}): Promise<MoveTask> {
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
  const sourceArn = attributes.Attributes!.QueueArn!;
  const started = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn }));
  for (;;) {
    const listed = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }));
    const task = listed.Results?.find((result) => result.TaskHandle === started.TaskHandle) ?? listed.Results?.[0];
    const status: MoveTask = {
      taskHandle: started.TaskHandle,
      status: task?.Status ?? 'UNKNOWN',
      moved: Number(task?.ApproximateNumberOfMessagesMoved ?? 0),
      toMove: task?.ApproximateNumberOfMessagesToMove,
      failureReason: task?.FailureReason,
    };
    if (!opts.wait || status.status !== 'RUNNING') return status;
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 1000));
  }
}
