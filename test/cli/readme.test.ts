// The README's commands, run as a newcomer pastes them: every block marked
// `<!-- readme-test: run -->`, in order, one command at a time, from a fresh
// folder standing in for a clone. Every `$ command` of a block marked
// `<!-- readme-test: output -->` must be one of those commands, and print
// what the README shows (times, hashes and keys aside).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/export-helpers.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
// Where the README's shown output pretends the clone is.
const SHOWN_CLONE = '/home/me/snapmeta';

interface Block {
  kind: 'run' | 'output';
  text: string;
}

interface Transcript {
  command: string;
  output: string[];
}

function markedBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/<!-- readme-test: (run|output) -->\n```[a-z]*\n([\s\S]*?)\n```/g)]
    .map((m) => ({ kind: m[1] as Block['kind'], text: m[2] }));
}

/** Commands of a run block: continuation lines joined, blank lines dropped. */
function commandsOf(text: string): string[] {
  return text.replace(/\\\n\s*/g, '').split('\n').filter((line) => line.trim() !== '');
}

/** `$ command` lines of an output block, each with the lines it prints. */
function transcriptOf(text: string): Transcript[] {
  const found: Transcript[] = [];
  for (const line of text.replace(/\\\n\s*/g, '').split('\n')) {
    if (line.startsWith('$ ')) found.push({ command: line.slice(2), output: [] });
    else found.at(-1)?.output.push(line);
  }
  return found;
}

/** A command as a transcript shows it: without the trailing `# why` of a run block. */
const withoutComment = (command: string) => command.replace(/\s+# .*$/, '');

/** What may differ from run to run: times, hashes, keys, and where the clone is. */
function normalise(lines: string[], clone: string): string[] {
  return lines.map((line) => line
    .replaceAll(clone, SHOWN_CLONE)
    .replace(/\b\d+(?:\.\d+)? (?:ms|s)\b/g, '<time>')
    .replace(/sha256 [0-9a-f]{16}…/g, 'sha256 <hash>…')
    .replace(/age1[0-9a-z]{58}/g, 'age1<key>')
    .trimEnd());
}

describe('the README, pasted in order', () => {
  const blocks = markedBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const commands = blocks.filter((b) => b.kind === 'run').flatMap((b) => commandsOf(b.text));
  const printed = new Map<string, string[]>();
  let clone: ReturnType<typeof tempDir>;

  // A clone as far as these commands can tell: every file git keeps, linked
  // (npx links the project into its cache and runs its prepare, the CLI build),
  // and its node_modules; a folder of its own, so out/ starts empty.
  before(() => {
    clone = tempDir('snapmeta-readme-');
    copyFileSync(join(ROOT, 'package.json'), join(clone.path, 'package.json'));
    const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').map((f) => f.split('/')[0]);
    for (const entry of new Set([...tracked, 'node_modules'])) {
      if (entry && entry !== 'package.json' && !entry.startsWith('.')) symlinkSync(join(ROOT, entry), join(clone.path, entry));
    }
  });
  after(() => clone?.remove());

  it('has the five-minute path: sample, export, restore, and a restore with the Debian tools', () => {
    for (const step of [/^npx snapmeta sample /, /^npx snapmeta export /, /^npx snapmeta restore /, /^age -d -i .*\| zstd -d \| sqlite3 /]) {
      assert.ok(commands.some((c) => step.test(c)), `a command matching ${step}`);
    }
  });

  it('runs every command in order, each succeeding', () => {
    let cwd = clone.path;
    for (const command of commands) {
      const ran = runLikeAShell(command, cwd);
      assert.equal(ran.status, 0, `\`${command}\` failed in ${cwd}:\n${ran.output}`);
      printed.set(withoutComment(command), ran.output === '' ? [] : ran.output.replace(/\n$/, '').split('\n'));
      cwd = ran.cwd;
    }
  });

  it('shows what those commands print', () => {
    const shown = blocks.filter((b) => b.kind === 'output').flatMap((b) => transcriptOf(b.text));
    assert.ok(shown.length > 0);
    for (const { command, output } of shown) {
      const actual = printed.get(command);
      assert.ok(actual, `the README shows \`${command}\`, which no readme-test run block runs`);
      assert.deepEqual(normalise(actual, clone.path), normalise(output, clone.path), `what \`${command}\` prints`);
    }
  });
});

/** One command in bash, stderr into stdout as a terminal shows it; returns where it left the shell. */
function runLikeAShell(command: string, cwd: string): { status: number | null; output: string; cwd: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' };
  for (const name of Object.keys(env)) if (name.startsWith('SNAPMETA_')) delete env[name];
  const script = `exec 2>&1\n${command}\nstatus=$?\necho "@@cwd=$PWD"\nexit $status`;
  const ran = spawnSync('bash', ['-o', 'pipefail', '-c', script], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  const at = ran.stdout.lastIndexOf('@@cwd=');
  return {
    status: ran.status,
    output: at < 0 ? ran.stdout : ran.stdout.slice(0, at),
    cwd: at < 0 ? cwd : ran.stdout.slice(at + 6).trim(),
  };
}
