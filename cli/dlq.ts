// snapmeta dlq list | replay: the dead-letter queue after a failure. list shows
// each parked message's upload and the last error the function noted for it;
// replay moves every message back to the queue (SQS's message-move task).
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SnapmetaError } from '../lib/core/errors.ts';
import { listDeadLetters, replayDeadLetters, type DeadLetter } from '../lib/service/dlq.ts';
import { LOCAL_NAMES } from '../lib/service/settings.ts';
import { ENDPOINT_HELP, givenOrDefault, s3For, sqsFor } from './aws.ts';
import { formatTime } from './report.ts';
import { parseCommand, type CommandSpec, type Options } from './args.ts';

const HELP = `usage: snapmeta dlq list|replay [--queue <name|url|arn>] [--endpoint <url>] [--no-wait]

  list     every message in the dead-letter queue: its upload, how often it was
           tried, and the last error the function noted (failed/<host>/<id>.json)
  replay   move them all back to the export queue, after the cause is fixed
           (SQS StartMessageMoveTask; waits until SQS reports the move done)
  --queue <q>          the dead-letter queue (the stack output DeadLetterQueueArn; default
                       $SNAPMETA_DLQ, or the local stack's with a loopback --endpoint)
${ENDPOINT_HELP}
  --no-wait            replay: start the move and return`;

const SPEC = {
  name: 'dlq',
  help: HELP,
  positionals: ['<list|replay>'],
  options: {
    queue: { type: 'string' },
    endpoint: { type: 'string' },
    'no-wait': { type: 'boolean', default: false },
  },
} satisfies CommandSpec<Options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (!args) return 0;
  const { values, positionals } = args;
  const action = positionals[0];
  if (action !== 'list' && action !== 'replay') throw new SnapmetaError('BAD_ARGUMENT', `expected list or replay, not ${JSON.stringify(action)}; run 'snapmeta dlq --help'`);
  const sqs = sqsFor(values.endpoint);
  try {
    const queueUrl = await resolveQueue(sqs, givenOrDefault(values.queue, process.env.SNAPMETA_DLQ, LOCAL_NAMES.dlq, values.endpoint));
    return action === 'list' ? await list(sqs, queueUrl, values.endpoint) : await replay(sqs, queueUrl, !values['no-wait']);
  } finally {
    sqs.destroy();
  }
}

/** A queue URL from a name, an ARN or a URL. */
async function resolveQueue(sqs: SQSClient, queue: string | undefined): Promise<string> {
  if (!queue) throw new SnapmetaError('BAD_ARGUMENT', '--queue <dead-letter queue> is required (the stack output DeadLetterQueueArn), or set SNAPMETA_DLQ');
  if (/^https?:\/\//.test(queue)) return queue;
  const arn = /^arn:[^:]+:sqs:[^:]*:(\d*):(.+)$/.exec(queue);
  const out = await sqs.send(new GetQueueUrlCommand({ QueueName: arn ? arn[2] : queue, QueueOwnerAWSAccountId: arn?.[1] || undefined }));
  return out.QueueUrl!;
}

async function list(sqs: SQSClient, queueUrl: string, endpoint: string | undefined): Promise<number> {
  const s3 = s3For(endpoint);
  try {
    const letters = await listDeadLetters(sqs, queueUrl, s3);
    console.log(`${letters.length} message${letters.length === 1 ? '' : 's'} in the dead-letter queue ${queueUrl}`);
    for (const letter of letters) console.log(describe(letter));
    if (letters.length) console.log("after fixing the cause: snapmeta dlq replay (each upload is still in the staging bucket)");
    return 0;
  } finally {
    s3.destroy();
  }
}

function describe(letter: DeadLetter): string {
  const lines = [`  message ${letter.messageId}: sent ${letter.sentAt ? formatTime(letter.sentAt) : '?'}, received ${letter.receiveCount} times (this listing included)`];
  if (letter.unreadable) lines.push(`    not an S3 event: ${letter.unreadable}`);
  for (const upload of letter.uploads) {
    lines.push(`    upload    s3://${upload.bucket}/${upload.key}`);
    const failure = upload.lastFailure;
    lines.push(failure
      ? `    last error (attempt ${failure.attempt}, ${formatTime(new Date(failure.failed_at))}): ${failure.error.name}: ${failure.error.message}`
      : '    last error: none noted');
  }
  return lines.join('\n');
}

async function replay(sqs: SQSClient, queueUrl: string, wait: boolean): Promise<number> {
  const task = await replayDeadLetters(sqs, queueUrl, { wait });
  if (task.status === 'FAILED') throw new Error(`the message move failed: ${task.failureReason ?? 'no reason given'}`);
  const total = task.toMove === undefined ? '' : ` of ${task.toMove}`;
  console.log(`${task.status === 'COMPLETED' ? 'moved' : 'moving'} ${task.moved}${total} messages back to the export queue (task ${task.taskHandle}, ${task.status})`);
  return 0;
}
