// A warm function's export, as the bench measures it: `snapmeta export` run
// twice in one process (bundled as the CLI is, infra/bundle.ts), the second time with
// sql.js's WASM compiled and optimised, the modules loaded and the heap grown,
// as a Lambda that already served one export runs the next. Each run writes to
// an out directory of its own, so the second is not a duplicate of the first.
//   node index.mjs <out-dir> <index> --snapshot <id> --recipient <age1…>
// prints each export's report, WARM_MARK between them, and last a line
// `warm {"first": {...}, "second": {...}}` with each run's wall and CPU time.
import { join } from 'node:path';
import { main } from '../cli/main.ts';
import { WARM_MARK } from './warm-mark.ts';

async function timedExport(args: string[], out: string): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const status = await main(['export', ...args, '--out', out]);
  const wallMs = performance.now() - t;
  // Every thread of the process: the compression on libuv's pool and V8's compilers count too.
  const { user, system } = process.cpuUsage(cpu);
  if (status !== 0) process.exit(status);
  return { wallMs, cpuMs: (user + system) / 1000 };
}

const [outDir, ...args] = process.argv.slice(2);
const first = await timedExport(args, join(outDir, 'first'));
console.log(WARM_MARK);
const second = await timedExport(args, join(outDir, 'second'));
console.log(`warm ${JSON.stringify({ first, second })}`);
