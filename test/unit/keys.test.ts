import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SnapmetaError } from '../../lib/core/errors.ts';
import {
  hashedSnapshotKey,
  MAX_HOST_BYTES,
  MAX_SNAPSHOT_ID_BYTES,
  decodeEventKey,
  encodeEventKey,
  metadataKeys,
  parseStagingKey,
  receiptKey,
  stagingKey,
} from '../../lib/core/keys.ts';

const badKey = (fn: () => unknown, pattern?: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SnapmetaError, `expected SnapmetaError, got ${String(err)}`);
    assert.equal(err.code, 'BAD_KEY');
    if (pattern) assert.match(err.message, pattern);
    return true;
  });

describe('decodeEventKey', () => {
  it('decodes keys the way S3 encodes them in event notifications', () => {
    // As S3 wrote it for "incoming/web 1/web1_2024-01-02T03:04:05Z+1.db".
    assert.equal(
      decodeEventKey('incoming/web+1/web1_2024-01-02T03%3A04%3A05Z%2B1.db'),
      'incoming/web 1/web1_2024-01-02T03:04:05Z+1.db',
    );
    assert.equal(decodeEventKey('incoming/h/%E2%9C%93.db'), 'incoming/h/✓.db');
  });

  it('rejects malformed percent-encoding as BAD_KEY', () => {
    badKey(() => decodeEventKey('incoming/h/snap%zz.db'), /not valid URL encoding/);
    badKey(() => decodeEventKey('incoming/h/%E2%9C.db'));
  });

  it('round-trips any key through encodeEventKey', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (key) => {
        assert.equal(decodeEventKey(encodeEventKey(key)), key);
      }),
    );
    assert.equal(encodeEventKey('incoming/a b/c+d:e.db'), 'incoming/a+b/c%2Bd%3Ae.db');
  });
});

describe('parseStagingKey', () => {
  it('takes host, snapshot id and compression from the key', () => {
    assert.deepEqual(parseStagingKey('incoming/web1/web1_2024-01-02T03:04:05Z.db'), {
      key: 'incoming/web1/web1_2024-01-02T03:04:05Z.db',
      host: 'web1',
      snapshotId: 'web1_2024-01-02T03:04:05Z',
      compressed: false,
    });
    assert.deepEqual(parseStagingKey('incoming/db.example/snap 1+x.db.zst'), {
      key: 'incoming/db.example/snap 1+x.db.zst',
      host: 'db.example',
      snapshotId: 'snap 1+x',
      compressed: true,
    });
    // The longest suffix wins only at the very end.
    assert.equal(parseStagingKey('incoming/h/a.db.zst.db')?.snapshotId, 'a.db.zst');
    assert.equal(parseStagingKey('incoming/h/a.db.db.zst')?.snapshotId, 'a.db');
  });

  it('ignores keys outside incoming/', () => {
    for (const key of ['processed/h/s.json', 'rejected/h/s.json', 'incoming', 'Incoming/h/s.db', 'x/incoming/h/s.db']) {
      assert.equal(parseStagingKey(key), undefined, key);
    }
  });

  it('rejects keys that cannot name a host and snapshot safely', () => {
    const cases: Array<[string, RegExp]> = [
      ['incoming/s.db', /expected incoming\/<host>/],
      ['incoming/h/s.sqlite', /must end in \.db or \.db\.zst/],
      ['incoming/h/s.db.gz', /must end in/],
      ['incoming//s.db', /host is empty/],
      ['incoming/h/.db', /snapshot id is empty/],
      ['incoming/h/a/b.db', /snapshot id contains "\/"/],
      ['incoming/h/../x.db', /snapshot id contains "\.\."/],
      ['incoming/../s.db', /host contains "\.\."/],
      ['incoming/h/x..y.db', /snapshot id contains "\.\."/],
      ['incoming/./s.db', /host is "\."/],
      ['incoming/h/..db', /snapshot id is "\."/],
      ['incoming/h/a\\b.db', /snapshot id contains "\\"$/],
      ['incoming/h/a\u0000b.db', /control character/],
      ['incoming/h\n/s.db', /host contains a control character/],
      ['incoming/h/a\u007fb.db', /control character/],
      ['incoming/h/a\u0085b.db', /control character/],
      [`incoming/${'h'.repeat(MAX_HOST_BYTES + 1)}/s.db`, /host is longer than 253 bytes/],
      [`incoming/h/${'é'.repeat(MAX_SNAPSHOT_ID_BYTES / 2 + 1)}.db`, /snapshot id is longer than 320 bytes/],
    ];
    for (const [key, why] of cases) badKey(() => parseStagingKey(key), why);
    // The limits themselves are allowed.
    assert.ok(parseStagingKey(`incoming/${'h'.repeat(MAX_HOST_BYTES)}/${'s'.repeat(MAX_SNAPSHOT_ID_BYTES)}.db`));
  });

  it('names the offending key in the message, escaped so it stays on one line', () => {
    badKey(() => parseStagingKey('incoming/h/a\nb.db'), /"incoming\/h\/a\\nb\.db"/);
  });
});

describe('stagingKey and receiptKey', () => {
  const part = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
    .filter((s) => !/[/\\%\u0000-\u001f\u007f-\u009f]/.test(s) && !s.includes('..') && s !== '.');

  it('builds keys that parse back to the same host and snapshot', () => {
    fc.assert(
      fc.property(part, part, fc.boolean(), (host, snapshotId, compressed) => {
        const key = stagingKey(host, snapshotId, compressed);
        assert.deepEqual(parseStagingKey(key), { key, host, snapshotId, compressed });
        // And survive the trip through an event notification.
        assert.deepEqual(parseStagingKey(decodeEventKey(encodeEventKey(key))), { key, host, snapshotId, compressed });
      }),
    );
  });

  it('refuses to build a key from a bad host or snapshot id', () => {
    badKey(() => stagingKey('a/b', 's', false));
    badKey(() => stagingKey('h', '../s', true));
    badKey(() => stagingKey('', 's', false));
  });

  it('puts receipts beside the host, or under a hash for keys with no usable host', () => {
    const staged = parseStagingKey('incoming/web1/snap:1.db.zst')!;
    assert.equal(receiptKey('processed', staged), 'processed/web1/snap:1.json');
    assert.equal(receiptKey('rejected', staged), 'rejected/web1/snap:1.json');
    const bad = 'incoming/../x.db';
    assert.equal(receiptKey('rejected', { key: bad }), `rejected/${createHash('sha256').update(bad).digest('hex')}.json`);
  });
});

describe('metadataKeys', () => {
  it('hashed: hex(sha256(sha256("vaultik|" + id))), the inner digest as raw bytes', () => {
    // The README's vector, computed with coreutils (test/interop/keys-vector.test.ts does it each run).
    assert.equal(hashedSnapshotKey('web-01_home_2026-11-13T03:00:03Z'), 'd82650f32fb95eb8d1b619a3500588fb514c3b0c9ff3b7b6dc820bb96d6f6de0');
    const inner = createHash('sha256').update('vaultik|web-01_home_2026-11-13T03:00:03Z').digest();
    assert.equal(hashedSnapshotKey('web-01_home_2026-11-13T03:00:03Z'), createHash('sha256').update(inner).digest('hex'));
  });

  it('plain keys name the folder by the id, hashed ones by its hash; both under the prefix', () => {
    const id = 'web-01_home_2026-11-13T03:00:03Z';
    assert.deepEqual(metadataKeys('vaultik/', id), {
      key: id,
      dir: `vaultik/metadata/${id}/`,
      dbKey: `vaultik/metadata/${id}/db.zst.age`,
      manifestKey: `vaultik/metadata/${id}/manifest.json.zst`,
    });
    const hashed = metadataKeys('', id, 'hashed');
    assert.equal(hashed.key, hashedSnapshotKey(id));
    assert.equal(hashed.dbKey, `metadata/${hashedSnapshotKey(id)}/db.zst.age`);
    assert.ok(!hashed.dir.includes('web-01'), 'no host, name or time in the key');
  });

  it('refuses an id that cannot name a key, whatever the scheme', () => {
    for (const scheme of ['plain', 'hashed'] as const) badKey(() => metadataKeys('', '../escaped', scheme), /cannot name an output key/);
  });
});
