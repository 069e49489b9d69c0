// A local stack for one test: fauxqs on a free loopback port, short visibility
// timeout, a fresh age key, the handler's S3 client behind S3Faults, its logs
// and metrics captured, and helpers to upload and wait.
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client, localConnection } from '../../../lib/service/aws-clients.ts';
import { readReceipt, type Receipt } from '../../../lib/service/receipts.ts';
import { S3MetadataStore } from '../../../lib/stores/s3-store.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../../local/stack.ts';
import type { InvocationReport } from '../../../local/event-source.ts';
import { StreamLogger } from '../../../local/stream-logger.ts';
import { makeKeys, tempDir, type Keys } from '../export-helpers.ts';
import { captureEmf } from './emf.ts';
import { S3Faults } from './faults.ts';

export interface Harness {
  stack: LocalStack;
  keys: Keys;
  dir: string;
  faults: S3Faults;
  logs: Array<Record<string, unknown>>;
  emf: ReturnType<typeof captureEmf>;
  invocations: InvocationReport[];
  errors: unknown[];
  upload(key: string, body: Uint8Array): Promise<void>;
  list(bucket: string, prefix?: string): Promise<string[]>;
  exists(bucket: string, key: string): Promise<boolean>;
  get(bucket: string, key: string): Promise<Uint8Array>;
  receipt(key: string): Promise<Receipt | undefined>;
  /** The receipt at `key` once it is written; throws after `timeoutMs`. */
  waitForReceipt(key: string, timeoutMs: number): Promise<Receipt>;
  /** Resolves when the queue has nothing visible or in flight and the bridge has nothing pending. */
  settled(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(options: Partial<LocalStackOptions> = {}): Promise<Harness> {
  const dir = tempDir('snapmeta-lambda-');
  const keys = await makeKeys(dir.path);
  const faults = new S3Faults();
  const logs: Array<Record<string, unknown>> = [];
  const errors: unknown[] = [];
  const invocations: InvocationReport[] = [];
  const emf = captureEmf();
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      recipients: [keys.recipient],
      visibilityTimeoutSeconds: 1,
      functionTimeoutSeconds: 60,
      logger: new StreamLogger((line) => logs.push(JSON.parse(line)), { serviceName: 'snapmeta-export', logLevel: 'DEBUG' }),
      handlerS3: (endpoint) => faults.attach(createS3Client(localConnection(endpoint))),
      onError: (err) => errors.push(err),
      ...options,
    });
  } catch (err) {
    emf.restore();
    dir.remove();
    throw err;
  }
  stack.onInvoke((report) => invocations.push(report));
  const { s3 } = stack;

  const harness: Harness = {
    stack,
    keys,
    dir: dir.path,
    faults,
    logs,
    emf,
    invocations,
    errors,
    async upload(key, body) {
      await s3.send(new PutObjectCommand({ Bucket: stack.names.stagingBucket, Key: key, Body: body }));
    },
    async list(bucket, prefix) {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((c) => c.Key!).sort();
    },
    async exists(bucket, key) {
      return (await new S3MetadataStore(s3, bucket).head(key)) !== undefined;
    },
    async get(bucket, key) {
      const bytes = await new S3MetadataStore(s3, bucket).get(key);
      if (!bytes) throw new Error(`s3://${bucket}/${key} does not exist`);
      return bytes;
    },
    receipt: (key) => readReceipt(new S3MetadataStore(s3, stack.names.stagingBucket), key),
    async waitForReceipt(key, timeoutMs) {
      let receipt: Receipt | undefined;
      await waitFor(async () => Boolean((receipt = await harness.receipt(key))), timeoutMs, `receipt ${key}`);
      return receipt!;
    },
    async settled(timeoutMs = 20_000) {
      await waitFor(async () => {
        const s = await stack.status();
        return s.queueDepth === 0 && s.inFlight === 0;
      }, timeoutMs, 'the queue to drain');
    },
    async close() {
      try {
        await stack.stop();
      } finally {
        emf.restore();
        dir.remove();
      }
    },
  };
  return harness;
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
