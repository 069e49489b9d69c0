// SHA-256 as the pipeline takes it: of whole buffers, of a stream as it
// flows, and of bytes read piece by piece into one buffer.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { digestTap, readHashed, sha256, sha256Hex, type ReadAt } from '../../lib/codecs/hash.ts';

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const reference = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A source of `data` that places at most `most` bytes a read, and counts its reads. */
function source(data: Uint8Array, most: number): { readAt: ReadAt; reads: () => number } {
  let reads = 0;
  const readAt: ReadAt = async (into, offset) => {
    reads++;
    const piece = data.subarray(offset, Math.min(data.byteLength, offset + most, into.byteLength));
    into.set(piece, offset);
    return piece.byteLength;
  };
  return { readAt, reads: () => reads };
}

const data = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 7919) % 251);

describe('sha256', () => {
  it('gives the standard digests', () => {
    assert.equal(sha256Hex(new Uint8Array(0)), EMPTY);
    assert.equal(sha256Hex(Buffer.from('abc')), ABC);
    assert.equal(sha256(Buffer.from('abc')).toString('hex'), ABC);
    assert.equal(sha256(data).byteLength, 32);
  });

  it('digestTap passes a stream through untouched, and hashes and counts the pieces as one', async () => {
    const tap = digestTap();
    const pieces = [data.subarray(0, 1), data.subarray(1, 4096), data.subarray(4096)];
    const stream = new ReadableStream<Uint8Array>({ start: (c) => (pieces.forEach((piece) => c.enqueue(piece)), c.close()) });
    const out: Uint8Array[] = [];
    for await (const chunk of stream.pipeThrough(tap.stream) as unknown as AsyncIterable<Uint8Array>) out.push(chunk);
    assert.deepEqual(Buffer.concat(out), Buffer.from(data));
    assert.deepEqual(tap.result(), { size: data.byteLength, sha256: reference(data) });
  });
});

describe('readHashed', () => {
  it('reads bytes that arrive in pieces into one buffer, with the digest of the whole', async () => {
    const { readAt, reads } = source(data, 4000);
    const { bytes, sha256: digest } = await readHashed(data.byteLength, readAt, 'the upload');
    assert.deepEqual(bytes, Buffer.from(data));
    assert.equal(digest, reference(data));
    assert.equal(reads(), Math.ceil(data.byteLength / 4000));
  });

  it('reads nothing for no bytes', async () => {
    const { readAt, reads } = source(data, 10);
    assert.deepEqual(await readHashed(0, readAt, 'the upload'), { bytes: Buffer.alloc(0), sha256: EMPTY });
    assert.equal(reads(), 0);
  });

  it('throws, naming the source, when it ends early', async () => {
    const { readAt } = source(data.subarray(0, 5000), 3000);
    await assert.rejects(readHashed(8000, readAt, 'incoming/web1/x.db'), /^Error: incoming\/web1\/x\.db ended after 5000 of 8000 bytes$/);
  });
});
