// The hashed key scheme's formula, computed by coreutils rather than by our
// code: sha256sum of "vaultik|<id>", its hex turned back into the raw digest
// (xxd -r -p), and that hashed again.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { hashedSnapshotKey } from '../../lib/core/keys.ts';

const bySha256sum = (id: string) =>
  execFileSync('bash', ['-c', 'printf %s "vaultik|$1" | sha256sum | cut -c1-64 | xxd -r -p | sha256sum | cut -c1-64', 'vector', id], { encoding: 'utf8' }).trim();

test('hashed keys are what sha256sum computes', () => {
  for (const id of ['web-01_home_2026-11-13T03:00:03Z', 'db1.example.com_2026-11-20T03:00:00Z', 'wéb 01_näme+x_2026-01-01T00:00:00Z']) {
    assert.equal(hashedSnapshotKey(id), bySha256sum(id), id);
  }
});
