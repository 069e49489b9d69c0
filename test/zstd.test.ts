// Our frame walker and codec against the Debian zstd tool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { compressFrame, decompressAll, decompressBounded, DecompressedTooLarge, isZstd, listFrames, nextFrame } from '../lib/codecs/zstd.ts';
import { tempDir, writeTemp } from './support/export-helpers.ts';

const BIG = { maxBuffer: 1 << 28 };
// Index-like text: hex hashes, as in a real dump.
const hash = (i: number) => createHash('sha256').update(String(i)).digest('hex');
const text = Buffer.from(Array.from({ length: 20000 }, (_, i) => `INSERT INTO chunks VALUES('${hash(i)}','${hash(i % 5000)}',${i * 7919});\n`).join(''));

test('frames written one by one are one stream to zstd -d', async () => {
  const a = await compressFrame(text.subarray(0, 1000), 3);
  const b = await compressFrame(text.subarray(1000), 3);
  const stream = Buffer.concat([a, b]);
  assert.deepEqual(listFrames(stream).map((f) => f.end - f.start), [a.byteLength, b.byteLength]);
  assert.ok(execFileSync('zstd', ['-dc'], { input: stream, maxBuffer: 1 << 28 }).equals(text));
});

test('the frame walker reads what the zstd tool writes: checksums, declared sizes, skippable frames, truncation', () => {
  const dir = tempDir();
  try {
    const file = writeTemp(dir.path, 'data', text);
    const withSize = execFileSync('zstd', ['-q', '-c', '-19', '--check', file], BIG);
    const piped = execFileSync('zstd', ['-q', '-c', '--no-check'], { ...BIG, input: text });
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a5e, 0);
    skippable.writeUInt32LE(5, 4);
    const stream = Buffer.concat([withSize, skippable, piped]);
    const frames = listFrames(stream);
    assert.equal(frames.length, 3);
    assert.equal(frames[0].contentSize, BigInt(text.byteLength));
    assert.equal(frames[1].skippable, true);
    assert.equal(frames[2].contentSize, undefined);
    assert.equal(frames[2].end, stream.byteLength);
    assert.equal(nextFrame(stream.subarray(0, withSize.byteLength - 1), 0), undefined, 'an incomplete frame is not a frame yet');
    assert.throws(() => listFrames(Buffer.concat([withSize, Buffer.from('garbage!')])), /magic/);
    assert.ok(isZstd(withSize) && isZstd(skippable) && !isZstd(text));
  } finally {
    dir.remove();
  }
});

test('the level is honoured', async () => {
  const fast = await compressFrame(text, 1);
  const small = await compressFrame(text, 19);
  assert.ok(small.byteLength < fast.byteLength, `level 19 (${small.byteLength}) smaller than level 1 (${fast.byteLength})`);
  assert.ok(Buffer.from(await decompressAll(small)).equals(text));
});

test('bounded decompression stops at the limit, with or without declared sizes', async () => {
  const undeclared = await compressFrame(text, 3);
  assert.ok(Buffer.from(await decompressBounded(undeclared, text.byteLength)).equals(text));
  await assert.rejects(decompressBounded(undeclared, text.byteLength - 1), DecompressedTooLarge);
  const dir = tempDir();
  try {
    const declared = execFileSync('zstd', ['-q', '-c', writeTemp(dir.path, 'data', text)], BIG);
    assert.equal(listFrames(declared)[0].contentSize, BigInt(text.byteLength));
    const multi = Buffer.concat([declared, declared]);
    await assert.rejects(decompressBounded(multi, text.byteLength * 2 - 1), DecompressedTooLarge);
    assert.equal((await decompressBounded(multi, text.byteLength * 2)).byteLength, text.byteLength * 2);
  } finally {
    dir.remove();
  }
});
