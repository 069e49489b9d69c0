// Runs zstd fuzz cases off the test's thread (test/support/case-worker.ts).
import { parentPort } from 'node:worker_threads';
import { zstdFuzzRunner } from './zstd-bombs.ts';

const run = await zstdFuzzRunner();
parentPort!.on('message', async (msg: { seed: number }) => parentPort!.postMessage(await run(msg.seed)));
parentPort!.postMessage('ready');
