// Exports run in a worker thread (export-worker.ts), so the deadline can stop
// any CPU-bound stage: opening the upload (decompress, load, prune) or producing
// its encrypted output. This thread keeps the I/O and the clock; at the deadline
// it terminates the worker, which stops it even inside WASM, and starts a fresh
// one for the next export. An idle worker is reused: SQLite compiles once.
import { Worker } from 'node:worker_threads';
import { newClock } from '../codecs/zstd-stream.ts';
import { SnapmetaError, type ErrorCode } from '../core/errors.ts';
import type { ExportJob, ExportOutput, OutputOptions } from './open-export.ts';
import { transferable, type JobSummary, type Notice, type Reply, type Request, type SentError, type WorkerSettings } from './worker-protocol.ts';

// A bundle names its worker file, and in a split build the folder of its
// chunks (infra/bundle.ts); a checkout runs the TypeScript source.
declare const SNAPMETA_EXPORT_WORKER: { file: string; chunkDir?: string } | undefined;

/** The deadline stopped a busy worker: a CPU-bound stage ran out of time. */
export class ExportStopped extends Error {
  constructor(
    /** The stage it was in: start, decompress, load, prune, dump or image. */
    readonly stage: string,
    /** How long that stage had run. */
    readonly stageMs: number,
    reason: unknown,
  ) {
    super(`the export was stopped in its ${stage} stage after ${Math.round(stageMs)} ms: ${(reason as Error)?.message ?? reason}`, { cause: reason });
    this.name = 'ExportStopped';
  }
}

/** An export opened in a worker. */
export interface WorkerJob extends ExportJob {
  /**
   * Why the deadline stopped its worker, if it did while the worker was busy:
   * a store that was reading the output reports only its own abort.
   */
  stopped(): ExportStopped | undefined;
}

export interface WorkerOpenOptions {
  snapshotId: string;
  maxIndexBytes?: number;
  /** Stops the worker if it is still busy when this aborts. */
  signal?: AbortSignal;
}

/**
 * Export workers of one setting. Each export has a worker to itself (a Lambda
 * runs one at a time, the local stack one per poller); an idle one waits, warm,
 * for the next export, and a stopped one is replaced at once.
 */
export class ExportWorkers {
  private readonly idle: WorkerThread[] = [];
  /** Workers started so far (a replaced worker counts again). */
  started = 0;

  constructor(private readonly settings: WorkerSettings = {}) {}

  /** Starts a worker now unless one is idle: a cold function pays for it before its first export. */
  warm(): Promise<void> {
    if (this.idle.length === 0) this.idle.push(this.start());
    return this.idle[0].ready.catch(() => {});
  }

  /**
   * Opens an upload in a worker. `input` is transferred, not copied: the
   * caller's view of it is left empty.
   */
  async open(input: Uint8Array, opts: WorkerOpenOptions): Promise<WorkerJob> {
    const thread = this.takeIdle() ?? this.start();
    const { bytes, transfer } = transferable(input);
    try {
      const reply = await thread.call({ op: 'open', bytes, snapshotId: opts.snapshotId, maxIndexBytes: opts.maxIndexBytes }, transfer, opts.signal);
      if (reply.kind !== 'opened') throw new Error(`the export worker answered ${reply.kind} to open`);
      return remoteJob(reply.summary, thread, () => this.release(thread));
    } catch (err) {
      this.release(thread);
      throw err;
    }
  }

  /** Stops every idle worker (tests; a Lambda keeps its worker for the next invocation). */
  async close(): Promise<void> {
    await Promise.all(this.idle.splice(0).map((thread) => thread.stop()));
  }

  /** An idle worker that is still alive (one may have died while it waited). */
  private takeIdle(): WorkerThread | undefined {
    for (let thread = this.idle.pop(); thread; thread = this.idle.pop()) {
      if (thread.alive) return thread;
      void thread.stop();
    }
    return undefined;
  }

  private start(): WorkerThread {
    this.started++;
    return new WorkerThread(this.settings);
  }

  /** Back to idle (its requests are queued after what it still owes), or replaced when it was stopped. */
  private release(thread: WorkerThread): void {
    if (thread.alive) {
      thread.notify({ op: 'close' });
      this.idle.push(thread);
      return;
    }
    void thread.stop();
    void this.warm();
  }
}

const shared = new Map<string, ExportWorkers>();

/** One set of workers per setting for the whole process, however many handlers it builds. */
export function sharedExportWorkers(settings: WorkerSettings = {}): ExportWorkers {
  const key = JSON.stringify(settings);
  let workers = shared.get(key);
  if (!workers) shared.set(key, (workers = new ExportWorkers(settings)));
  return workers;
}

function remoteJob(summary: JobSummary, thread: WorkerThread, release: () => void): WorkerJob {
  let closed = false;
  return {
    ...summary,
    stopped: () => (thread.failure instanceof ExportStopped ? thread.failure : undefined),
    async output({ format, level, recipients, signal }: OutputOptions): Promise<ExportOutput> {
      await thread.call({ op: 'output', format, level, recipients }, [], signal);
      const clock = newClock();
      const stream = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (closed) throw new Error('the export job is closed');
            const reply = await thread.call({ op: 'pull' }, [], signal);
            if (reply.kind === 'chunk') controller.enqueue(reply.chunk);
            else if (reply.kind === 'end') {
              Object.assign(clock, reply.clock);
              controller.close();
            }
          },
        },
        // Two chunks ahead: the worker keeps producing while the store sends.
        { highWaterMark: 2 },
      );
      return { stream, clock };
    },
    close() {
      if (!closed) release();
      closed = true;
    },
  };
}

type Pending = { resolve: (reply: Reply) => void; reject: (err: unknown) => void };
type Answer = Extract<Reply, { kind: 'opened' | 'output' | 'chunk' | 'end' }>;

/** One worker thread, asked one thing at a time. */
class WorkerThread {
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private pending: Pending | undefined;
  private queue: Promise<void> = Promise.resolve();
  private stage = { name: 'start', since: performance.now() };
  /** Why the worker is done for, once it is. */
  failure: Error | undefined;
  private started!: { resolve: () => void; reject: (err: Error) => void };
  private holds = 0;

  constructor(settings: WorkerSettings) {
    this.ready = new Promise<void>((resolve, reject) => (this.started = { resolve, reject }));
    this.ready.catch(() => {});
    this.worker = startWorker(settings);
    this.worker.on('message', (reply: Reply) => this.receive(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the export worker exited (code ${code})`)));
    // Starting keeps the process alive; an idle worker does not.
    this.hold(1);
    this.ready.finally(() => this.hold(-1)).catch(() => {});
  }

  get alive(): boolean {
    return !this.failure;
  }

  /** Posted after every request already made has been answered. */
  notify(notice: Notice): void {
    this.queue = this.queue.then(() => {
      if (this.alive) this.worker.postMessage(notice);
    });
  }

  /**
   * Sends a request once the ones before it are answered, and waits for its
   * reply; an abort while the worker works on it stops the worker.
   */
  call(request: Request, transfer: ArrayBuffer[], signal?: AbortSignal): Promise<Answer> {
    const reply = this.queue.then(() => this.ask(request, transfer, signal));
    this.queue = reply.then(() => {}, () => {});
    return reply;
  }

  private async ask(request: Request, transfer: ArrayBuffer[], signal?: AbortSignal): Promise<Answer> {
    signal?.throwIfAborted();
    if (this.failure) throw this.failure;
    const onAbort = () => this.fail(new ExportStopped(this.stage.name, performance.now() - this.stage.since, signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    this.hold(1);
    try {
      await this.ready;
      const reply = await new Promise<Reply>((resolve, reject) => {
        this.pending = { resolve, reject };
        this.worker.postMessage(request, transfer);
      });
      if (reply.kind === 'failed') throw receivedError(reply.error);
      return reply as Answer;
    } finally {
      this.pending = undefined;
      this.hold(-1);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The worker keeps the process alive while it starts or works on a request. */
  private hold(change: 1 | -1): void {
    this.holds += change;
    if (this.holds === 0) this.worker.unref();
    else if (this.holds === 1 && change === 1) this.worker.ref();
  }

  private receive(reply: Reply): void {
    if (reply.kind === 'ready') {
      this.stage = { name: 'ready', since: performance.now() };
      return this.started.resolve();
    }
    if (reply.kind === 'stage') {
      this.stage = { name: reply.stage, since: performance.now() };
      return;
    }
    this.pending?.resolve(reply);
  }

  /** The worker is done for: whatever was asked of it fails with `err`. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = outOfMemory(err, this.stage.name) ?? err;
    this.started.reject(this.failure);
    this.pending?.reject(this.failure);
    void this.worker.terminate();
  }

  async stop(): Promise<void> {
    this.fail(new Error('the export worker was stopped'));
    // Whoever waits for the worker to end keeps the process alive until it has.
    this.hold(1);
    await this.worker.terminate();
  }
}

function startWorker(settings: WorkerSettings): Worker {
  if (typeof SNAPMETA_EXPORT_WORKER !== 'undefined') {
    // Beside the bundle's entry: one folder up when this code sits in a chunk.
    const { file, chunkDir } = SNAPMETA_EXPORT_WORKER;
    const here = new URL('.', import.meta.url);
    const root = chunkDir && here.pathname.endsWith(`/${chunkDir}/`) ? new URL('..', here) : here;
    return new Worker(new URL(file, root), { workerData: settings });
  }
  // A worker does not inherit its parent's TypeScript loader: it registers tsx first.
  const entry = new URL('./export-worker.ts', import.meta.url).href;
  const source = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(source, { eval: true, workerData: settings });
}

/** A SnapmetaError as it was; anything else as an Error of the same name. */
function receivedError(sent: SentError): Error {
  if (sent.code) return new SnapmetaError(sent.code as ErrorCode, sent.message);
  const err = new Error(sent.message);
  err.name = sent.name;
  if (sent.stack) err.stack = sent.stack;
  return err;
}

/** V8 stops a worker whose JavaScript heap is full: the upload needed more memory than there is. */
function outOfMemory(err: Error, stage: string): SnapmetaError | undefined {
  if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_OUT_OF_MEMORY') return undefined;
  return new SnapmetaError('INDEX_TOO_LARGE', `the export ran out of memory in its ${stage} stage: ${err.message}`, { cause: err });
}
