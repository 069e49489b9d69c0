// What the CLI prints: a compact report, and progress on a terminal only.
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
