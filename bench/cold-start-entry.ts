// Bundled exactly as the function is (infra/bundle.ts) and run in a fresh
// process: what a cold start costs before the first export can begin.
// performance.now() counts from the process's start.
const started = performance.now();
const { handler } = await import('../functions/export.ts');
const imported = performance.now();
const { loadSqlJs } = await import('../lib/core/sqlite.ts');
await loadSqlJs();
const ready = performance.now();
console.log(JSON.stringify({ started, importMs: imported - started, wasmMs: ready - imported, readyMs: ready, handler: typeof handler }));
