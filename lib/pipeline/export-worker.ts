// The export worker thread: opens an upload (decompress, load, prune) and
// produces its encrypted output (dump or image → zstd → age), a chunk per
// request, for the thread that drives it (worker-export.ts). All of it is CPU
// bound, so the driving thread stays free to keep time, and stops this one
// with worker.terminate() when the deadline comes, even inside WASM.
import { parentPort, workerData } from 'node:worker_threads';
import { isSnapmetaError } from '../core/errors.ts';
import { loadSqlJs } from '../core/sqlite.ts';
import { handOver, openExport, type ExportOutput, type OpenedExport } from './open-export.ts';
import { transferable, type Notice, type Reply, type Request, type WorkerSettings } from './worker-protocol.ts';

const port = parentPort!;
let job: OpenedExport | undefined;
let output: { reader: ReadableStreamDefaultReader<Uint8Array>; clock: ExportOutput['clock'] } | undefined;

const send = (reply: Reply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

await start(workerData as WorkerSettings);
port.on('message', (message: Request | Notice) => {
  if (message.op === 'close') return void closeJob();
  const answering = message.op === 'open'
    ? openJob(handOver(message.bytes), { snapshotId: message.snapshotId, maxIndexBytes: message.maxIndexBytes })
    : answer(message);
  // This listener's frame, the only other holder of the upload, ends here.
  answering.catch((err: unknown) => send({ kind: 'failed', error: sentError(err) }));
});

/** SQLite compiled and its heap limit set before the first upload arrives. */
async function start(settings: WorkerSettings): Promise<void> {
  const SQL = await loadSqlJs();
  if (settings.heapLimitBytes) {
    // Process-wide for this SQLite, and it can only be lowered: set once, for the worker's life.
    const db = new SQL.Database();
    db.run(`PRAGMA hard_heap_limit=${Math.floor(settings.heapLimitBytes)}`);
    db.close();
  }
  send({ kind: 'ready' });
}

/** Opens an upload handed over by the listener, which keeps nothing of it. */
async function openJob(input: () => Uint8Array, request: { snapshotId: string; maxIndexBytes?: number }): Promise<void> {
  closeJob();
  job = await openExport(input, {
    snapshotId: request.snapshotId,
    maxIndexBytes: request.maxIndexBytes,
    onStage: (stage) => send({ kind: 'stage', stage }),
  });
  const { output: _o, close: _c, dump: _d, image: _i, ...summary } = job;
  send({ kind: 'opened', summary });
}

async function answer(request: Exclude<Request, { op: 'open' }>): Promise<void> {
  switch (request.op) {
    case 'output': {
      if (!job) throw new Error('no export is open');
      send({ kind: 'stage', stage: request.format === 'sql' ? 'dump' : 'image' });
      const { stream, clock } = await job.output({ format: request.format, level: request.level, recipients: request.recipients });
      output = { reader: stream.getReader(), clock };
      return send({ kind: 'output' });
    }
    case 'pull': {
      if (!output) throw new Error('no output is being read');
      const next = await output.reader.read();
      if (next.done) return send({ kind: 'end', clock: output.clock });
      const { bytes, transfer } = transferable(next.value);
      return send({ kind: 'chunk', chunk: bytes }, transfer);
    }
  }
}

function closeJob(): void {
  output?.reader.cancel().catch(() => {});
  output = undefined;
  job?.close();
  job = undefined;
}

function sentError(err: unknown) {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message, code: isSnapmetaError(e) ? e.code : undefined, stack: e.stack };
}
