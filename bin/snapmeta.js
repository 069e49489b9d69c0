#!/usr/bin/env node
// The CLI as built JavaScript (dist/cli, which `npm ci` builds): no TypeScript
// loader at start.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/index.mjs', import.meta.url);
if (!existsSync(entry)) {
  console.error('snapmeta: the CLI is not built: run npm run build (npm ci runs it)');
  process.exit(1);
}
// The AWS SDK's own switch for its one notice that future SDK releases will
// need Node 22: the pinned SDK runs on Node 20, and the notice is for whoever
// upgrades it (README, Requirements), not for every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import(entry.href);
