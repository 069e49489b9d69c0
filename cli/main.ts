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
};

export const USAGE = `usage: snapmeta <command> [options]

${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join('\n')}

Run 'snapmeta <command> --help' for a command's options.
No index at hand? 'snapmeta sample index.db' writes one and prints an export command for it.`;

export async function main(argv: string[]): Promise<number> {
  guardOutput(process.stdout);
  guardOutput(process.stderr);
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(name && !['-h', '--help', 'help'].includes(name) ? `snapmeta: unknown command ${JSON.stringify(name)}\n\n${USAGE}` : USAGE);
    return name && !['-h', '--help', 'help'].includes(name) ? 2 : 0;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    if (isSnapmetaError(err)) {
      console.error(`snapmeta ${name}: ${err.code}: ${err.message}`);
      return err instanceof UsageError ? 2 : 1;
    }
    console.error(`snapmeta ${name}: ${(err as Error).stack ?? err}`);
    return 1;
  }
}
