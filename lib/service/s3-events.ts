// The objects an SQS message from S3 event notifications is about. S3 first
// sends an s3:TestEvent when notifications are configured; it names no object.
import type { S3Event } from 'aws-lambda';
import type { StagedObjectRef } from './process-upload.ts';

export function objectsCreated(body: string): StagedObjectRef[] {
  let message: Partial<S3Event> & { Event?: string };
  try {
    message = JSON.parse(body) as typeof message;
  } catch {
    throw new Error('the message is not JSON, so not an S3 event notification');
  }
  if (message.Event === 's3:TestEvent') return [];
  if (!Array.isArray(message.Records)) throw new Error('the message is not an S3 event notification (no Records)');
  return message.Records.filter((r) => r.eventSource === 'aws:s3' && r.eventName?.startsWith('ObjectCreated:')).map((r) => ({
    bucket: r.s3.bucket.name,
    encodedKey: r.s3.object.key,
    versionId: r.s3.object.versionId,
  }));
}
