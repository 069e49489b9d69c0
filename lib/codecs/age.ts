// age encryption (https://age-encryption.org/v1): typage (age-encryption)
// writes the header and wraps the file key; node:crypto seals the payload,
// many times faster. Why and how: docs/design.md, "age".
import { createCipheriv, hkdfSync } from 'node:crypto';
import { Decrypter, Encrypter, type Recipient } from 'age-encryption';

export const CHUNK = 64 * 1024;
const TAG = 16;

/**
 * A stream of the age encryption of `plain` to `recipients` (age1… strings),
 * which any age implementation decrypts. `onSeal` is told how long each piece
 * of sealing took on this thread. Throws what typage throws for a bad recipient.
 */
export async function ageEncryptStream(
  plain: ReadableStream<Uint8Array>,
  recipients: string[],
  onSeal?: (ms: number) => void,
): Promise<ReadableStream<Uint8Array>> {
  const { prefix, streamKey } = await ageHeader(recipients);
  const reader = plain.getReader();
  const seal = payloadSealer(streamKey);
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(prefix);
      },
      async pull(controller) {
        for (;;) {
          const { done, value } = await reader.read();
          const started = performance.now();
          const out = done ? seal.finish() : seal.push(value);
          onSeal?.(performance.now() - started);
          if (out.byteLength) controller.enqueue(out);
          if (done) controller.close();
          if (done || out.byteLength) return;
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The header and nonce typage writes for a fresh file key, and the payload
 * key derived from them. A recipient that wraps nothing is handed the file
 * key, through typage's own Recipient interface. typage encrypts an empty
 * payload, which is exactly one final chunk: the 16-byte tag of nothing,
 * after the nonce.
 */
async function ageHeader(recipients: string[]): Promise<{ prefix: Uint8Array; streamKey: Buffer }> {
  let fileKey: Uint8Array | undefined;
  const capture: Recipient = {
    wrapFileKey(key: Uint8Array) {
      fileKey = Uint8Array.from(key);
      return [];
    },
  };
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  encrypter.addRecipient(capture);
  const empty = await encrypter.encrypt(new Uint8Array(0));
  if (!fileKey) throw new Error('age-encryption did not wrap a file key');
  const prefix = empty.subarray(0, empty.byteLength - TAG);
  const nonce = prefix.subarray(prefix.byteLength - 16);
  const streamKey = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
  fileKey.fill(0);
  return { prefix, streamKey };
}

/**
 * Seals plaintext into age payload chunks. A full chunk is sealed only once
 * more input arrives, because the last chunk carries the flag and a payload
 * that is a multiple of 64 KiB ends on a full one.
 */
function payloadSealer(key: Buffer): { push(data: Uint8Array): Uint8Array; finish(): Uint8Array } {
  // The counter fills the nonce's last 4 of 11 bytes: 2^32 chunks of 64 KiB
  // is 256 TiB, far past the largest index.
  const nonce = Buffer.alloc(12);
  let counter = 0;
  const pending = Buffer.allocUnsafe(CHUNK);
  let used = 0;

  const sealInto = (out: Buffer, at: number, chunk: Uint8Array, last: boolean) => {
    if (counter > 0xffffffff) throw new Error('age payload too long');
    nonce.writeUInt32BE(counter++, 7);
    nonce[11] = last ? 1 : 0;
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
    at += cipher.update(chunk).copy(out, at);
    at += cipher.final().copy(out, at);
    return at + cipher.getAuthTag().copy(out, at);
  };

  return {
    push(data) {
      // Chunks sealed now: every full one that more input follows.
      const sealable = Math.max(0, Math.ceil((used + data.byteLength) / CHUNK) - 1);
      const out = Buffer.allocUnsafe(sealable * (CHUNK + TAG));
      let at = 0;
      let rest = data;
      while (rest.byteLength > 0) {
        if (used === CHUNK) {
          at = sealInto(out, at, pending, false);
          used = 0;
        }
        if (used === 0 && rest.byteLength > CHUNK) {
          // Whole chunks straight from the input, no copy into pending.
          at = sealInto(out, at, rest.subarray(0, CHUNK), false);
          rest = rest.subarray(CHUNK);
          continue;
        }
        const taken = Math.min(CHUNK - used, rest.byteLength);
        pending.set(rest.subarray(0, taken), used);
        used += taken;
        rest = rest.subarray(taken);
      }
      return out.subarray(0, at);
    },
    finish() {
      const out = Buffer.allocUnsafe(used + TAG);
      return out.subarray(0, sealInto(out, 0, pending.subarray(0, used), true));
    },
  };
}

/** The plaintext of an age stream, for any of `identities` (AGE-SECRET-KEY-1… strings); rejects when none fits. */
export function ageDecryptStream(cipher: ReadableStream<Uint8Array>, identities: string[]): Promise<ReadableStream<Uint8Array>> {
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  return decrypter.decrypt(cipher);
}
