// What S3 event notifications do in AWS, for a local server that has none: each
// object created in the staging bucket under the notification filter becomes a
// real-shaped S3 event message on the queue, after the initial s3:TestEvent.
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { encodeEventKey } from '../lib/core/keys.ts';
import type { ObjectCreated } from './fauxqs-server.ts';
import { Pending } from './pending.ts';

export interface NotificationFilter {
  bucket: string;
  prefix: string;
  /** An object matches when its key ends with any of these (S3: one rule per suffix). */
  suffixes: string[];
}

export interface S3EventBridgeOptions {
  sqs: SQSClient;
  queueUrl: string;
  region: string;
  filter: NotificationFilter;
  /** Extra copies of every event: S3 delivers at least once, sometimes more. */
  duplicates?: number;
  onError?: (err: unknown) => void;
}

export class S3EventBridge {
  private sequence = 0n;
  private readonly pending = new Pending();

  constructor(private readonly options: S3EventBridgeOptions) {}

  /** What S3 sends once when a notification configuration is put on a bucket. */
  async sendTestEvent(): Promise<void> {
    await this.send({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: new Date().toISOString(),
      Bucket: this.options.filter.bucket,
      RequestId: requestId(),
      HostId: 'snapmeta-local',
    });
  }

  private matches(obj: { bucket: string; key: string }): boolean {
    const { bucket, prefix, suffixes } = this.options.filter;
    return obj.bucket === bucket && obj.key.startsWith(prefix) && suffixes.some((s) => obj.key.endsWith(s));
  }

  /** Queues the notification for a created object, if it matches the filter; never throws (see onError). */
  notify(obj: ObjectCreated): void {
    if (!this.matches(obj)) return;
    const event: S3Event = { Records: [s3EventRecord(obj, this.options.region, this.nextSequencer())] };
    for (let i = 0; i <= (this.options.duplicates ?? 0); i++) this.pending.track(this.send(event), this.options.onError);
  }

  /** Resolves once every notification queued so far is on the queue. */
  drain(): Promise<void> {
    return this.pending.drain();
  }

  private nextSequencer(): string {
    this.sequence += 1n;
    return this.sequence.toString(16).toUpperCase().padStart(18, '0');
  }

  private async send(body: object): Promise<void> {
    await this.options.sqs.send(new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: JSON.stringify(body) }));
  }
}

/** One record of an S3 event notification, as S3 writes it. */
export function s3EventRecord(obj: ObjectCreated, region: string, sequencer: string): S3EventRecord {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: region,
    eventTime: new Date().toISOString(),
    eventName: obj.eventName,
    userIdentity: { principalId: 'AWS:SNAPMETALOCAL' },
    requestParameters: { sourceIPAddress: obj.sourceIp },
    responseElements: { 'x-amz-request-id': requestId(), 'x-amz-id-2': 'snapmeta-local' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'snapmeta-exports',
      bucket: { name: obj.bucket, ownerIdentity: { principalId: 'SNAPMETALOCAL' }, arn: `arn:aws:s3:::${obj.bucket}` },
      // S3 URL-encodes the key, with '+' for a space.
      object: { key: encodeEventKey(obj.key), size: obj.size, eTag: obj.etag, sequencer },
    },
  };
}

const requestId = () => randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase();
