// SQS's message-move tasks (StartMessageMoveTask, ListMessageMoveTasks) for the
// local server, which lacks them: how `snapmeta dlq replay` moves dead letters
// back in AWS, so the same command works against the local stack. Built from
// the server's own SQS calls: receive from the DLQ, send to the queue whose
// redrive policy names it (or the destination given), delete.
import { randomUUID } from 'node:crypto';
import type { buildApp } from 'fauxqs';

type App = ReturnType<typeof buildApp>;

interface MoveTask {
  TaskHandle: string;
  Status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  SourceArn: string;
  DestinationArn: string;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
  FailureReason?: string;
}

const TARGET = 'AmazonSQS.';

export function addMessageMoveTasks(app: App): void {
  const tasks: MoveTask[] = [];
  const call = sqsCaller(app);
  app.addHook('preHandler', async (req, reply) => {
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || typeof target !== 'string' || !target.startsWith(TARGET)) return;
    const action = target.slice(TARGET.length);
    if (action !== 'StartMessageMoveTask' && action !== 'ListMessageMoveTasks') return;
    const body = req.body as { SourceArn: string; DestinationArn?: string; MaxResults?: number };
    try {
      const result = action === 'StartMessageMoveTask' ? await start(call, tasks, body) : list(tasks, body);
      return reply.code(200).header('content-type', 'application/x-amz-json-1.0').send(JSON.stringify(result));
    } catch (err) {
      const message = (err as Error).message;
      return reply.code(400).header('content-type', 'application/x-amz-json-1.0').send(JSON.stringify({ __type: 'com.amazonaws.sqs#InvalidParameterValue', message }));
    }
  });
}

type SqsCall = (action: string, body: object) => Promise<Record<string, any>>;

function sqsCaller(app: App): SqsCall {
  return async (action, body) => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `${TARGET}${action}` },
      payload: JSON.stringify(body),
    });
    if (res.statusCode !== 200) throw new Error(`${action}: ${res.payload}`);
    return res.payload ? JSON.parse(res.payload) : {};
  };
}

async function start(call: SqsCall, tasks: MoveTask[], body: { SourceArn: string; DestinationArn?: string }): Promise<{ TaskHandle: string }> {
  if (tasks.some((task) => task.SourceArn === body.SourceArn && task.Status === 'RUNNING')) {
    throw new Error(`a message move task is already running for ${body.SourceArn}`);
  }
  const queues = await queuesByArn(call);
  const source = queues.get(body.SourceArn);
  if (!source) throw new Error(`no queue ${body.SourceArn}`);
  const destinationArn = body.DestinationArn ?? [...queues.entries()].find(([, q]) => q.deadLetterTargetArn === body.SourceArn)?.[0];
  if (!destinationArn || !queues.has(destinationArn)) throw new Error(`no queue redrives to ${body.SourceArn}; give DestinationArn`);
  const task: MoveTask = {
    TaskHandle: randomUUID(),
    Status: 'RUNNING',
    SourceArn: body.SourceArn,
    DestinationArn: destinationArn,
    ApproximateNumberOfMessagesMoved: 0,
    ApproximateNumberOfMessagesToMove: source.messages,
    StartedTimestamp: Date.now(),
  };
  tasks.unshift(task);
  move(call, task, source.url, queues.get(destinationArn)!.url).catch((err: Error) => Object.assign(task, { Status: 'FAILED', FailureReason: err.message }));
  return { TaskHandle: task.TaskHandle };
}

async function move(call: SqsCall, task: MoveTask, sourceUrl: string, destinationUrl: string): Promise<void> {
  for (;;) {
    const { Messages: messages = [] } = await call('ReceiveMessage', { QueueUrl: sourceUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0 });
    if (messages.length === 0) break;
    for (const message of messages) {
      await call('SendMessage', { QueueUrl: destinationUrl, MessageBody: message.Body, MessageAttributes: message.MessageAttributes });
      await call('DeleteMessage', { QueueUrl: sourceUrl, ReceiptHandle: message.ReceiptHandle });
      task.ApproximateNumberOfMessagesMoved++;
    }
  }
  task.Status = 'COMPLETED';
}

function list(tasks: MoveTask[], body: { SourceArn: string; MaxResults?: number }) {
  return { Results: tasks.filter((task) => task.SourceArn === body.SourceArn).slice(0, body.MaxResults ?? 1) };
}

async function queuesByArn(call: SqsCall) {
  const { QueueUrls: urls = [] } = await call('ListQueues', {});
  const queues = new Map<string, { url: string; messages: number; deadLetterTargetArn?: string }>();
  for (const url of urls as string[]) {
    const { Attributes: a } = await call('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['All'] });
    const redrive = a.RedrivePolicy ? (JSON.parse(a.RedrivePolicy) as { deadLetterTargetArn?: string }) : undefined;
    queues.set(a.QueueArn, { url, messages: Number(a.ApproximateNumberOfMessages ?? 0), deadLetterTargetArn: redrive?.deadLetterTargetArn });
  }
  return queues;
}
