// The payload we seal with node:crypto must be age's STREAM to the byte: the
// Debian age tool and typage both open it, whatever the size (around the
// 64 KiB chunk edges above all) and however the plaintext arrives in pieces.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { ageEncryptStream, CHUNK } from '../../lib/codecs/age.ts';
import { makeKeys, tempDir, writeTemp, type Keys } from '../support/export-helpers.ts';

const streamOf = (pieces: Uint8Array[]) => new ReadableStream<Uint8Array>({
  start(controller) {
    for (const p of pieces) controller.enqueue(p);
    controller.close();
  },
});

async function encrypt(pieces: Uint8Array[], recipients: string[]): Promise<Buffer> {
  const reader = (await ageEncryptStream(streamOf(pieces), recipients)).getReader();
  const out: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
  return Buffer.concat(out);
}

/** Cut `data` at the given offsets (taken modulo its length). */
function cut(data: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((n) => (data.byteLength ? n % data.byteLength : 0)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, data.byteLength]) {
    pieces.push(data.subarray(from, p));
    from = p;
  }
  return pieces;
}

const dir = tempDir();
let keys: Keys;
before(async () => {
  keys = await makeKeys(dir.path);
});
after(() => dir.remove());

const opened = async (sealed: Uint8Array) => {
  const d = new Decrypter();
  d.addIdentity(keys.identity);
  return Buffer.from(await d.decrypt(sealed));
};

// Header + 16-byte nonce + one 16-byte tag per 64 KiB chunk (at least one).
const payloadSize = (n: number) => 16 + n + 16 * Math.max(1, Math.ceil(n / CHUNK));

test('the Debian age tool opens it at every chunk edge, and the size is exact', async () => {
  const other = await identityToRecipient(await generateIdentity());
  for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17]) {
    const plain = randomBytes(n);
    const sealed = await encrypt(cut(plain, [7, 40_000, 70_000, 131_072]), [other, keys.recipient]);
    const file = writeTemp(dir.path, `p${n}.age`, sealed);
    const fromAge = execFileSync('age', ['-d', '-i', keys.identityFile, file], { maxBuffer: 1 << 26 });
    assert.ok(fromAge.equals(plain), `age -d, ${n} bytes`);
    const header = sealed.indexOf('\n---') + 1;
    const headerEnd = sealed.indexOf('\n', header) + 1;
    assert.equal(sealed.byteLength - headerEnd, payloadSize(n), `${n} bytes: nonce, chunks and tags`);
  }
});

test('typage opens it however the plaintext is cut into pieces', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.nat({ max: 3 * CHUNK + 5 }), fc.constantFrom(CHUNK, 2 * CHUNK, CHUNK - 1, CHUNK + 1)),
      fc.array(fc.nat(), { maxLength: 12 }),
      async (size, at) => {
        const plain = randomBytes(size);
        assert.ok((await opened(await encrypt(cut(plain, at), [keys.recipient]))).equals(plain));
      },
    ),
    { numRuns: 60 },
  );
});

test('a flipped ciphertext byte is refused, not opened', async () => {
  const sealed = await encrypt([randomBytes(CHUNK + 100)], [keys.recipient]);
  sealed[sealed.byteLength - 50] ^= 1;
  await assert.rejects(opened(sealed));
});
