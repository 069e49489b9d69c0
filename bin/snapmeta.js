#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx: no build step.
import { register } from 'tsx/esm/api';

// The AWS SDK's own switch for its one notice that future SDK releases will
// need Node 22: the pinned SDK runs on Node 20, and the notice is for whoever
// upgrades it (README, Requirements), not for every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
