// `snapmeta <command>`: each command lives in its own module, loaded on demand.
import { isSnapmetaError } from '../lib/core/errors.ts';
import { UsageError } from './args.ts';
import { guardOutput } from './report.ts';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  sample: { summary: 'write a realistic sample index to try the other commands on', load: () => import('./sample.ts') },
  export: { summary: 'export one snapshot of an index database as encrypted metadata', load: () => import('./export.ts') },
  restore: { summary: 'decrypt and load an export into a SQLite file, and check it', load: () => import('./restore.ts') },
  upload: { summary: 'upload an index to the staging bucket as an agent does, and wait for its receipt', load: () => import('./upload.ts') },
  local: { summary: 'run the whole pipeline on this machine (what `npm start` runs)', load: () => import('./local.ts') },
  verify: { summary: "prove a published snapshot restorable: its blobs exist, its metadata restores", load: () => import('./verify.ts') },
  ls: { summary: 'published snapshots, newest first, per host', load: () => import('./ls.ts') },
  status: { summary: 'every host, its newest export, and the hosts gone silent', load: () => import('./status.ts') },
  dlq: { summary: 'the dead-letter queue: list its messages and their errors, replay them', load: () => import('./dlq.ts') },
  redrive: { summary: 'send rejected uploads through the export again, after a fix', load: () => import('./redrive.ts') },
};

export const USAGE = `usage: snapmeta <command> [options]

${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join('\n')}

Run 'snapmeta <command> --help' for a command's options.
No index at hand? 'snapmeta sample index.db' writes one and prints an export command for it.`;

export async function main(argv: string[]): Promise<number> {
  guardOutput(process.stdout);
  guardOutput(process.stderr);
  const [name, ...rest] = argv;
  if (!name || ['-h', '--help', 'help'].includes(name)) {
    console.log(USAGE);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`snapmeta: BAD_ARGUMENT: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    return reportError(name, err);
  }
}

/** A failure as one line: its code and what to do; exit status 2 for a malformed command line. */
function reportError(name: string, err: unknown): number {
  if (isSnapmetaError(err)) {
    console.error(`snapmeta ${name}: ${err.code}: ${err.message}`);
    return err instanceof UsageError ? 2 : 1;
  }
  // A system error (network, file) is the user's to fix and says what; a stack is for bugs.
  const { code, syscall, message, stack } = err as NodeJS.ErrnoException;
  console.error(`snapmeta ${name}: ${typeof code === 'string' && syscall ? `${code}: ${message}` : stack ?? err}`);
  return 1;
}
