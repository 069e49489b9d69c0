// A real S3- and SQS-compatible HTTP server (fauxqs) on loopback, with what
// the pipeline relies on and fauxqs lacks: SQS message-move tasks (./message-move.ts),
// and two S3 behaviours: conditional writes
// (If-None-Match: * on PutObject and CompleteMultipartUpload, If-Match on
// DeleteObject) and a hook for every object created, which the event bridge
// turns into S3 event notifications.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { buildApp } from 'fauxqs';
import { addMessageMoveTasks } from './message-move.ts';

type App = ReturnType<typeof buildApp>;

// The parts of Fastify's request and reply the hooks use (fastify itself is fauxqs's dependency, not ours).
interface HookRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  params: unknown;
  query: unknown;
  routeOptions: { url?: string };
}
interface HookReply {
  code(status: number): HookReply;
  header(name: string, value: string): HookReply;
  send(body: string): HookReply;
}

export type ObjectCreatedEventName = 'ObjectCreated:Put' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload';

export interface ObjectCreated {
  eventName: ObjectCreatedEventName;
  bucket: string;
  key: string;
  size: number;
  /** Without quotes, as S3 event notifications carry it. */
  etag: string;
  sourceIp: string;
}

export interface LocalAwsServer {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  onObjectCreated(listener: (obj: ObjectCreated) => void): void;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 only; port 0 picks a free one. */
export async function startLocalAwsServer(options: { port?: number } = {}): Promise<LocalAwsServer> {
  const app = buildApp({ logger: false });
  const listeners: Array<(obj: ObjectCreated) => void> = [];

  app.addHook('preHandler', async (req, reply) => {
    const op = objectOperation(req);
    if (!op) return;
    const ifNoneMatch = req.headers['if-none-match'];
    const ifMatch = req.headers['if-match'];
    if (op.creates && ifNoneMatch === '*' && (await headObject(app, op.bucket, op.key))) {
      return sendError(reply, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-None-Match');
    }
    if (op.kind === 'delete' && typeof ifMatch === 'string') {
      const current = await headObject(app, op.bucket, op.key);
      if (!current) return sendError(reply, 404, 'NoSuchKey', 'The specified key does not exist.');
      if (unquote(ifMatch) !== current.etag) {
        return sendError(reply, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-Match');
      }
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const op = objectOperation(req);
    if (!op?.creates || reply.statusCode !== 200 || listeners.length === 0) return;
    const head = await headObject(app, op.bucket, op.key);
    if (!head) return;
    const created: ObjectCreated = { eventName: op.creates, bucket: op.bucket, key: op.key, ...head, sourceIp: req.ip };
    for (const listener of listeners) listener(created);
  });

  addMessageMoveTasks(app);
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    onObjectCreated: (listener) => void listeners.push(listener),
    close: () => app.close(),
  };
}

interface ObjectOperation {
  kind: 'put' | 'complete' | 'delete';
  bucket: string;
  key: string;
  /** The event S3 would emit on success; undefined for requests that create no object. */
  creates?: ObjectCreatedEventName;
}

function objectOperation(req: HookRequest): ObjectOperation | undefined {
  const params = (req.params ?? {}) as Record<string, string>;
  const key = params['*'];
  if (req.routeOptions.url !== '/:bucket/*' || !key) return undefined;
  const bucket = params.bucket;
  const query = (req.query ?? {}) as Record<string, string>;
  if (req.method === 'PUT' && !query.partNumber) {
    return { kind: 'put', bucket, key, creates: req.headers['x-amz-copy-source'] ? 'ObjectCreated:Copy' : 'ObjectCreated:Put' };
  }
  if (req.method === 'POST' && query.uploadId) {
    return { kind: 'complete', bucket, key, creates: 'ObjectCreated:CompleteMultipartUpload' };
  }
  if (req.method === 'DELETE' && !query.uploadId) return { kind: 'delete', bucket, key };
  return undefined;
}

async function headObject(app: App, bucket: string, key: string): Promise<{ size: number; etag: string } | undefined> {
  const url = `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const res = await app.inject({ method: 'HEAD', url });
  if (res.statusCode !== 200) return undefined;
  return { size: Number(res.headers['content-length']), etag: unquote(String(res.headers.etag)) };
}

function sendError(reply: HookReply, status: number, code: string, message: string, condition?: string) {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message>` +
    (condition ? `<Condition>${condition}</Condition>` : '') +
    `<RequestId>${randomUUID()}</RequestId></Error>`;
  return reply.code(status).header('content-type', 'application/xml').send(xml);
}

const unquote = (etag: string) => etag.replace(/^"|"$/g, '');
