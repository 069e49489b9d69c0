// The messages between an export worker thread (export-worker.ts) and the
// thread that drives it (worker-export.ts): one request at a time, answered
// by one reply; stage notices arrive while the worker is busy.
import type { StageClock } from '../codecs/zstd-stream.ts';
import type { DbFormat } from '../core/manifest.ts';
import type { ExportJob } from './open-export.ts';

export interface WorkerSettings {
  /** SQLite's hard heap limit for the worker's whole life (PRAGMA hard_heap_limit can only lower it). */
  heapLimitBytes?: number;
}

export type Request =
  | { op: 'open'; bytes: Uint8Array; snapshotId: string; maxIndexBytes?: number }
  | { op: 'output'; format: DbFormat; level: number; recipients: string[] }
  | { op: 'pull' };

/** No reply: the job is over, whatever state its output is in. */
export type Notice = { op: 'close' };

export type JobSummary = Omit<ExportJob, 'output' | 'close'>;

export type Reply =
  | { kind: 'ready' }
  | { kind: 'stage'; stage: string }
  | { kind: 'opened'; summary: JobSummary }
  | { kind: 'output' }
  | { kind: 'chunk'; chunk: Uint8Array }
  | { kind: 'end'; clock: StageClock }
  | { kind: 'failed'; error: SentError };

export interface SentError {
  name: string;
  message: string;
  /** A SnapmetaError's code. */
  code?: string;
  stack?: string;
}

/**
 * What to post to send bytes without copying them: a view of its whole
 * buffer is transferred (the sender's copy is detached); a view of part of a
 * buffer (Node's pooled small Buffers) is copied first, since transferring
 * would take the rest of the buffer with it.
 */
export function transferable(bytes: Uint8Array): { bytes: Uint8Array; transfer: ArrayBuffer[] } {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  const sent = whole ? bytes : new Uint8Array(bytes);
  return { bytes: sent, transfer: [sent.buffer as ArrayBuffer] };
}
