// Runs fuzz cases off the test's thread, so a case that hangs inside SQLite can
// be stopped (by terminating this worker) and reported by its seed.
import { parentPort, workerData } from 'node:worker_threads';
import { fuzzRunner } from './fuzz-case.ts';

const run = await fuzzRunner((workerData as { dir: string }).dir);
parentPort!.on('message', async (msg: { seed: number }) => parentPort!.postMessage(await run(msg.seed)));
parentPort!.postMessage('ready');
