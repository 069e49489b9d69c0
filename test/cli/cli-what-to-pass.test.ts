// Every CLI error says what to pass instead; `restore` finds an export from
// its folder, a file in it, or the --out directory and the snapshot id
// (folder named by the id or by its hash).
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashedSnapshotKey } from '../../lib/core/keys.ts';
import { sampleIndex, sampleSnapshotIds, type SampleIndexOptions } from '../../lib/sample/sample-index.ts';
import { exportTo, makeKeys, tempDir } from '../support/export-helpers.ts';
import { runSnapmeta } from '../support/snapmeta-cli.ts';

const SAMPLE: SampleIndexOptions = { layout: 'v2', hostname: 'web1.example.com', snapshots: 2, filesPerSnapshot: 10, snapshotName: 'home' };

describe('the CLI says what to pass instead', () => {
  let dir: ReturnType<typeof tempDir>;
  let ids: string[];
  let recipient: string;
  let restored = 0;
  // stdout alone when it succeeds, stdout and stderr when it fails.
  const cli = (...args: string[]) => runSnapmeta(args, { cwd: dir.path }).then(({ code, stdout, out }) => ({ code, out: code === 0 ? stdout : out }));
  const restore = (...target: string[]) => cli('restore', ...target, '--identity', 'key.txt', '--to', `restored-${++restored}.db`);

  before(async () => {
    dir = tempDir('snapmeta-pass-');
    const keys = await makeKeys(dir.path);
    recipient = keys.recipient;
    const bytes = await sampleIndex(SAMPLE);
    ids = sampleSnapshotIds(SAMPLE);
    writeFileSync(join(dir.path, 'index.db'), bytes);
    for (const id of ids) await exportTo(join(dir.path, 'backup'), bytes, id, keys);
    // The same export under its hashed folder name, as --key-scheme hashed writes it.
    const hashed = join(dir.path, 'hashed', 'metadata', hashedSnapshotKey(ids[0]));
    mkdirSync(hashed, { recursive: true });
    cpSync(join(dir.path, 'backup', 'metadata', ids[0]), hashed, { recursive: true });
  });
  after(() => dir?.remove());

  it('restore accepts the folder, its db.zst.age, and <out dir> <snapshot-id> under either key scheme', async () => {
    const outcomes = await Promise.all([
      restore(`backup/metadata/${ids[0]}`),
      restore(`backup/metadata/${ids[0]}/db.zst.age`),
      restore('backup', ids[1]),
      restore('hashed', ids[0]),
    ]);
    for (const { code, out } of outcomes) {
      assert.equal(code, 0, out);
      assert.match(out, /integrity ok, hash and row counts match the manifest/);
    }
  });

  it('restore names the mistake: an --out directory alone, a stray file, a missing id, s3://', async () => {
    const expected: Array<[string[], RegExp]> = [
      [['backup'], /backup is not one export but holds 2 under backup\/metadata; pass backup <snapshot-id>, or one folder: backup\/metadata\/web1_home_/],
      [['backup/metadata'], /pass backup <snapshot-id>, or one folder/],
      [['index.db'], /index\.db is a file, not an export; pass the folder an export wrote \(<dir>\/metadata\/<id>\), or <dir> <snapshot-id>/],
      [['nowhere'], /nowhere does not exist; pass the folder an export wrote/],
      [['backup', 'web1_home_1999-01-01T00:00:00Z'], /no export of snapshot "web1_home_1999-01-01T00:00:00Z" under backup \(looked in backup\/metadata\/web1_home_1999-01-01T00:00:00Z and backup\/metadata\/[0-9a-f]{64}\)/],
      [['s3://bucket/vaultik'], /with s3:\/\/bucket\/vaultik, give the snapshot id too: s3:\/\/bucket\/vaultik <snapshot-id>/],
    ];
    const outcomes = await Promise.all(expected.map(([target]) => restore(...target)));
    outcomes.forEach(({ code, out }, i) => {
      assert.equal(code, 1, out);
      assert.match(out, /^snapmeta restore: BAD_ARGUMENT: /);
      assert.match(out, expected[i][1]);
    });
  });

  it('export: NOT_SQLITE and a missing index say to pass the agent index, NO_RECIPIENTS names both options', async () => {
    const [notSqlite, encrypted, missing, noRecipients] = await Promise.all([
      cli('export', 'key.txt', '--snapshot', ids[0], '--recipient', recipient),
      cli('export', `backup/metadata/${ids[0]}/db.zst.age`, '--snapshot', ids[0], '--recipient', recipient),
      cli('export', 'nothere.db', '--snapshot', ids[0], '--recipient', recipient),
      cli('export', 'index.db', '--snapshot', ids[0]),
    ]);
    const passIndex = /pass the agent's index database \(index\.db, or index\.db\.zst\); none yet\? 'snapmeta sample index\.db' writes one$/m;
    assert.match(notSqlite.out, /^snapmeta export: NOT_SQLITE: key\.txt: not an SQLite database/);
    assert.match(notSqlite.out, passIndex);
    assert.match(encrypted.out, /NOT_SQLITE: .*db\.zst\.age: it is age-encrypted \(an export's db\.zst\.age\?\)/);
    assert.match(missing.out, /^snapmeta export: BAD_ARGUMENT: cannot read nothere\.db: ENOENT/);
    assert.match(missing.out, passIndex);
    assert.match(noRecipients.out, /^snapmeta export: NO_RECIPIENTS: .*pass --recipient age1… or --recipients-file <file>/);
  });

  it('upload: an endpoint it cannot reach is named, with what to pass', async () => {
    const { code, out } = await cli('upload', 'index.db', '--host', 'web1', '--snapshot', ids[0], '--endpoint', 'http://127.0.0.1:9');
    assert.equal(code, 1);
    assert.equal(out, 'snapmeta upload: ECONNREFUSED: cannot reach http://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9; '
      + 'for the local stack, start it (npm start) and pass the --endpoint it prints\n');
  });

  it('usage errors name the option and the help to read, with exit status 2', async () => {
    const { code, out } = await cli('export', 'index.db', '--snapshot', ids[0], '--bogus');
    assert.equal(code, 2);
    assert.equal(out, "snapmeta export: BAD_ARGUMENT: Unknown option '--bogus'; run 'snapmeta export --help' for its options\n");
    const unknown = await cli('exprot', 'index.db');
    assert.equal(unknown.code, 2);
    assert.match(unknown.out, /^snapmeta: BAD_ARGUMENT: unknown command "exprot"\n\nusage: snapmeta <command>/);
    const missing = await cli('restore', 'backup', ids[0], '--identity', 'key.txt');
    assert.equal(missing.code, 1);
    assert.match(missing.out, /^snapmeta restore: BAD_ARGUMENT: --to <restored\.db> is required: the SQLite file to create$/m);
  });
});
