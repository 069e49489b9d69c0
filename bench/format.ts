// How the bench writes sizes, durations, rates and Markdown tables.
const MiB = 2 ** 20;

export function bytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(n >= 100 * MiB ? 0 : 1)} MiB`;
  return `${(n / 1024).toFixed(0)} KiB`;
}

export function seconds(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** Bytes per second, in the decimal units zstd and disks use. */
export function rate(bytesPerSec: number): string {
  return bytesPerSec >= 1e9 ? `${(bytesPerSec / 1e9).toFixed(2)} GB/s` : `${Math.round(bytesPerSec / 1e6)} MB/s`;
}

export const percent = (share: number) => `${Math.round(share * 100)} %`;

export const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** "100M" → 100,000,000; "2.5G" → 2,500,000,000 (powers of 1000); undefined when not a size. */
export function nominalBytes(label: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMG])$/i.exec(label.trim());
  return m ? Math.round(Number(m[1]) * { K: 1e3, M: 1e6, G: 1e9 }[m[2].toUpperCase() as 'K' | 'M' | 'G']) : undefined;
}
