// What the CLI prints: a compact report, progress on a terminal only, and never a secret.
import { holdsIdentity, redactSecrets } from '../lib/core/secrets.ts';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export const formatMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

export function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

/** A one-line progress indicator on stderr, only when it is a terminal. */
export function progress(): { update(stage: string, done: number, total: number): void; done(): void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update(stage, done, total) {
      const now = Date.now();
      if (!tty || (now - last < 100 && done < total)) return;
      last = now;
      const pct = total ? Math.floor((done / total) * 100) : 100;
      process.stderr.write(`\r\x1b[K${stage}: ${done}/${total} rows (${pct}%)`);
    },
    done() {
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}

const GUARDED = Symbol('snapmeta.guarded');

/**
 * The last line of defence: whatever this process writes to `stream` (ours,
 * a library's, a stack trace) reaches it with age identities redacted.
 */
export function guardOutput(stream: NodeJS.WriteStream): void {
  const marked = stream as NodeJS.WriteStream & { [GUARDED]?: true };
  if (marked[GUARDED]) return;
  marked[GUARDED] = true;
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => write(redactChunk(chunk), ...rest)) as typeof stream.write;
}

function redactChunk(chunk: unknown): unknown {
  if (typeof chunk === 'string') return redactSecrets(chunk);
  if (!(chunk instanceof Uint8Array)) return chunk;
  // Identities are ASCII: a latin1 view finds them without decoding.
  const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return holdsIdentity(text.toString('latin1')) ? Buffer.from(redactSecrets(text.toString('utf8'))) : chunk;
}

/** Rows under a header, each column as wide as its widest cell. */
export function columns(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** How long ago, coarsely: 45s, 12m, 3h 5m, 2d 4h. */
export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.max(0, Math.floor(ms / 1000))}s`;
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60 ? ` ${minutes % 60}m` : ''}`;
  return `${Math.floor(hours / 24)}d${hours % 24 ? ` ${hours % 24}h` : ''}`;
}

/** A time as people read logs: 2026-12-04 06:12 UTC. */
export const formatTime = (at: Date) => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
