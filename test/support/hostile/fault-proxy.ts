// A fault-injecting HTTP proxy on 127.0.0.1 in front of the local S3 server.
// Unlike SDK middleware, the faults are on the wire, so the SDK's own retries
// and error handling run: 503 SlowDown, 500, a connection reset before S3 saw
// the request or after it did the work (the response is lost), a response body
// cut off halfway, or a request held until released. Every request is logged
// with the status S3 gave it, so tests count what S3 really stored.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultAction = 'slowdown' | 'internal-error' | 'reset' | 'lost-response' | 'truncate' | 'hold';

export interface S3Request {
  method: string;
  bucket: string;
  key: string;
  query: URLSearchParams;
}

export interface ProxiedRequest extends S3Request {
  /** What S3 answered; undefined when the request never reached it. */
  status?: number;
  fault?: FaultAction;
}

interface Rule {
  when: (r: S3Request) => boolean;
  action: FaultAction;
  times: number;
  held?: Promise<void>;
  reached?: () => void;
}

/** A pattern matching exactly this key. */
export const exactKey = (key: string) => new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Matches requests by method and key (and, optionally, a query parameter such as uploadId). */
export const s3Op = (method: string, key: RegExp, queryParam?: string) => (r: S3Request) =>
  r.method === method && key.test(r.key) && (!queryParam || r.query.has(queryParam));

export class FaultProxy {
  /** http://127.0.0.1:<port> of the real server; set before the first request. */
  target = '';
  readonly log: ProxiedRequest[] = [];
  /** Awaited before a request is forwarded: where tests check invariants at the moment they matter. */
  beforeForward?: (r: S3Request) => Promise<void> | void;
  private readonly rules: Rule[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FaultProxy> {
    let proxy!: FaultProxy;
    const server = createServer((req, res) => void proxy.handle(req, res).catch(() => res.destroy()));
    proxy = new FaultProxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next `times` requests matching `when` meet `action` (Infinity: all of them). */
  inject(when: (r: S3Request) => boolean, action: Exclude<FaultAction, 'hold'>, times = 1): void {
    this.rules.push({ when, action, times });
  }

  /** Holds the next matching request (before S3 sees it) until release(). */
  hold(when: (r: S3Request) => boolean): { reached: Promise<void>; release(): void } {
    let release!: () => void;
    let reached!: () => void;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    this.rules.push({ when, action: 'hold', times: 1, held: new Promise<void>((resolve) => (release = resolve)), reached });
    return { reached: reachedPromise, release };
  }

  /** Requests S3 answered with a 2xx, by method and key pattern. */
  succeeded(method: string, key: RegExp): ProxiedRequest[] {
    return this.log.filter((r) => r.method === method && key.test(r.key) && r.status !== undefined && r.status < 300);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const [, bucket = '', ...rest] = url.pathname.split('/').map(decodeURIComponent);
    const s3req: S3Request = { method: req.method ?? 'GET', bucket, key: rest.join('/'), query: url.searchParams };
    const entry: ProxiedRequest = { ...s3req };
    this.log.push(entry);
    const rule = this.rules.find((r) => r.times > 0 && r.when(s3req));
    if (rule) {
      rule.times--;
      entry.fault = rule.action;
    }
    switch (rule?.action) {
      case 'slowdown':
        return this.refuse(req, res, 503, 'SlowDown', 'Please reduce your request rate.');
      case 'internal-error':
        return this.refuse(req, res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
      case 'reset':
        req.socket.destroy();
        return;
      case 'hold':
        rule.reached?.();
        await rule.held;
        break;
    }
    await this.beforeForward?.(s3req);
    await this.forward(req, res, entry, rule?.action);
  }

  private refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`);
    });
  }

  private forward(req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest, action?: FaultAction): Promise<void> {
    return new Promise((resolve, reject) => {
      const upstream = request(`${this.target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        entry.status = answer.statusCode;
        if (action === 'lost-response') {
          // S3 did the work; the client never hears of it.
          answer.resume();
          answer.on('end', () => {
            req.socket.destroy();
            resolve();
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (action === 'truncate') {
          const half = Math.floor(Number(answer.headers['content-length'] ?? 0) / 2);
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            if (sent < half) res.write(chunk.subarray(0, half - sent));
            sent += chunk.byteLength;
            if (sent >= half) {
              answer.destroy();
              req.socket.destroy();
              resolve();
            }
          });
          return;
        }
        answer.pipe(res);
        answer.on('end', resolve);
      });
      upstream.on('error', reject);
      req.pipe(upstream);
    });
  }
}
