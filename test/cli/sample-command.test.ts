// `snapmeta sample`: a newcomer's first index. What it prints is what it wrote,
// and the export command it prints runs as printed.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { sampleSnapshotIds } from '../../lib/sample/sample-index.ts';
import { tempDir } from '../support/export-helpers.ts';

const BIN = new URL('../../bin/snapmeta.js', import.meta.url).pathname;
const run = promisify(execFile);

describe('snapmeta sample', () => {
  let dir: ReturnType<typeof tempDir>;
  const cli = (...args: string[]) => run(process.execPath, [BIN, ...args], { cwd: dir.path });

  before(() => {
    dir = tempDir('snapmeta-sample-');
    execFileSync('age-keygen', ['-o', join(dir.path, 'key.txt')], { stdio: 'ignore' });
  });
  after(() => dir?.remove());

  it('writes a v1 index with vaultik named ids, prints them, and an export command that runs as printed', async () => {
    const { stdout } = await cli('sample', 'v1.db', '--layout', 'v1', '--files', '12', '--snapshots', '2', '--host', 'web-01.example.com', '--name', 'home');
    assert.match(stdout, /^wrote v1\.db: a v1-path-keyed sample index of web-01\.example\.com, 2 snapshots of 12 files/);
    const printed = [...stdout.matchAll(/^ {2}(web-01_home_\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(printed, ['web-01_home_2026-11-18T03:00:00Z', 'web-01_home_2026-11-19T03:00:00Z']);
    const stored = execFileSync('sqlite3', [join(dir.path, 'v1.db'), 'SELECT id FROM snapshots ORDER BY started_at'], { encoding: 'utf8' });
    assert.deepEqual(stored.trim().split('\n'), printed);

    const command = stdout.match(/^ {2}npx snapmeta (export .*)$/m)![1];
    assert.match(command, /--snapshot web-01_home_2026-11-19T03:00:00Z --recipient "\$\(age-keygen -y key\.txt\)" --out backup$/);
    // As a shell runs it; node bin/snapmeta.js stands in for npx outside a clone.
    const exported = execFileSync('sh', ['-c', `"$0" "$1" ${command}`, process.execPath, BIN], { cwd: dir.path, encoding: 'utf8' });
    assert.match(exported, /^exported snapshot web-01_home_2026-11-19T03:00:00Z \(v1-path-keyed, host web-01\.example\.com\)/);
  });

  it('refuses to overwrite, and says what is wrong with an option', async () => {
    writeFileSync(join(dir.path, 'taken.db'), 'x');
    const failures = await Promise.all([
      ['sample', 'taken.db'],
      ['sample', 'a.db', '--layout', 'v3'],
      ['sample', 'b.db', '--files', '0'],
      ['sample', 'c.db', '--name', 'my_name'],
      ['sample', 'd.db', '--host', 'a/b'],
    ].map((args) => cli(...args).then(() => assert.fail(`${args.join(' ')} should fail`), (err: { code: number; stderr: string }) => err)));
    const messages = failures.map((f) => (assert.equal(f.code, 1), f.stderr.trim()));
    assert.match(messages[0], /^snapmeta sample: BAD_ARGUMENT: cannot write taken\.db: it exists; sample never overwrites/);
    assert.match(messages[1], /--layout must be v1 or v2, not "v3"/);
    assert.match(messages[2], /--files must be a whole number in 1\.\.20000, not "0"/);
    assert.match(messages[3], /--name: .*letters, digits/);
    assert.match(messages[4], /--host must be a hostname/);
  });

  it('the library keeps its unnamed ids unless asked', () => {
    assert.deepEqual(sampleSnapshotIds({ layout: 'v2', snapshots: 1 }), ['web1.example.com_2026-11-18T03:00:00Z']);
    assert.deepEqual(sampleSnapshotIds({ layout: 'v2', snapshots: 1, hostname: 'db.example.com', snapshotName: 'pg' }), ['db_pg_2026-11-18T03:00:00Z']);
  });
});
