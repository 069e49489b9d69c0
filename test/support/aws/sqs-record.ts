// SQS records shaped as Lambda's event source delivers them, for handler tests
// that invoke the function directly (no queue in between).
import type { Context, SQSRecord } from 'aws-lambda';
import { s3EventRecord } from '../../../local/s3-event-bridge.ts';

let seq = 0;

export function sqsRecord(body: unknown): SQSRecord {
  seq++;
  return {
    messageId: `m-${seq}`,
    receiptHandle: `r-${seq}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
    awsRegion: 'us-east-1',
  };
}

/** The S3 notification body for one created object. */
export const objectCreatedEvent = (bucket: string, key: string, size = 0) => ({
  Records: [s3EventRecord({ eventName: 'ObjectCreated:Put', bucket, key, size, etag: 'x', sourceIp: '127.0.0.1' }, 'us-east-1', '01')],
});

/** A Lambda context whose deadline is remainingMs from now. */
export function lambdaContext(remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now(), functionName: 'f', awsRequestId: `req-${seq}` } as Context;
}
