// Seeded test cases run one at a time in a worker thread, so a case that hangs
// (inside SQLite, inside a decoder) is stopped by terminating the worker, and
// reported by its seed, while the run goes on in a fresh worker.
import { Worker } from 'node:worker_threads';

/**
 * A worker does not inherit the test's TypeScript loader: it registers tsx,
 * then imports `entry`, a module that answers { seed } messages after 'ready'.
 */
const sourceOf = (entry: URL) => `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;

export class CaseWorker<Outcome> {
  private worker: Worker;
  private ready: Promise<unknown>;

  constructor(private readonly entry: URL, private readonly caseTimeoutMs: number, private readonly workerData?: unknown) {
    this.worker = this.start();
    this.ready = this.next();
  }

  /** The outcome of one seed; `failed` builds the outcome of a hang or a crash of the whole worker. */
  async run(seed: number, failed: (error: string, ms: number) => Outcome): Promise<Outcome> {
    await this.ready;
    const started = performance.now();
    this.worker.postMessage({ seed });
    try {
      return (await this.next(this.caseTimeoutMs)) as Outcome;
    } catch (err) {
      await this.worker.terminate();
      this.worker = this.start();
      this.ready = this.next();
      return failed(`worker: ${(err as Error).message}`, Math.round(performance.now() - started));
    }
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }

  private start(): Worker {
    return new Worker(sourceOf(this.entry), { eval: true, workerData: this.workerData });
  }

  /** The worker's next message; rejects if it errors, exits, or says nothing within timeoutMs. */
  private next(timeoutMs?: number): Promise<unknown> {
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      const settle = (done: () => void) => {
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        done();
      };
      const onMessage = (message: unknown) => settle(() => resolve(message));
      const onError = (err: Error) => settle(() => reject(err));
      const onExit = (code: number) => settle(() => reject(new Error(`worker exited with code ${code}`)));
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => settle(() => reject(new Error('timeout'))), timeoutMs);
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
  }
}
