// Our frame walker and codec against the Debian zstd tool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  compressFrame, decompressAll, decompressBounded, DecompressedTooLarge, isZstd, listFrames, MAX_WINDOW_BYTES, nextFrame, ZstdWindowTooLarge,
} from '../../lib/codecs/zstd.ts';
import { sqliteBytes } from '../../lib/core/index-bytes.ts';
import { tempDir, writeTemp } from '../support/export-helpers.ts';
import { skippableFrame } from '../support/hostile/zstd-bombs.ts';

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

/** What an agent's zstd writes for `input`, given a file (content size declared) or a pipe (none). */
function zstdTool(args: string[], input: Buffer, via: 'file' | 'pipe', dir: string): Buffer {
  if (via === 'pipe') return execFileSync('zstd', ['-q', '-c', ...args], { ...BIG, input });
  return execFileSync('zstd', ['-q', '-c', ...args, writeTemp(dir, 'in', input)], BIG);
}

async function decodesAtAndUnderTheLimit(name: string, stream: Uint8Array, plain: Buffer): Promise<void> {
  assert.ok(Buffer.from(await decompressBounded(stream, plain.byteLength)).equals(plain), `${name}: decodes at the limit`);
  await assert.rejects(decompressBounded(stream, plain.byteLength - 1), DecompressedTooLarge, `${name}: one byte under the limit`);
}

test('what agents write decodes exactly at the limit and is refused one byte under: zstd -3 to --ultra -22 and --long, file or pipe, checksums, several frames, skippable frames, our upload framing', async () => {
  const data = text.subarray(0, 512 << 10);
  const dir = tempDir();
  try {
    const variants: [string, string[], 'file' | 'pipe'][] = [
      ['-3, file', ['-3'], 'file'], ['-3 --no-check, pipe', ['-3', '--no-check'], 'pipe'], ['-19 --check, pipe', ['-19', '--check'], 'pipe'],
      ['--ultra -22, pipe', ['--ultra', '-22'], 'pipe'], ['-19 --long, pipe', ['-19', '--long'], 'pipe'], ['-19 --long, file', ['-19', '--long'], 'file'],
    ];
    const made: Record<string, Buffer> = {};
    for (const [name, args, via] of variants) {
      made[name] = zstdTool(args, data, via, dir.path);
      await decodesAtAndUnderTheLimit(name, made[name], data);
    }
    assert.equal(listFrames(made['-19 --long, pipe'])[0].windowSize, BigInt(MAX_WINDOW_BYTES), '--long asks for exactly the bound');
    const half = data.byteLength / 2;
    const twoFrames = Buffer.concat([zstdTool(['-19'], data.subarray(0, half), 'pipe', dir.path), zstdTool(['-3', '--check'], data.subarray(half), 'file', dir.path)]);
    await decodesAtAndUnderTheLimit('two frames', twoFrames, data);
    await decodesAtAndUnderTheLimit('skippable frames around and between', Buffer.concat([skippableFrame(3, 0), twoFrames, skippableFrame(3, 15)]), data);
    // snapmeta upload --compress: one frame per 8 MiB piece; smaller pieces here make several.
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < data.byteLength; i += 128 << 10) pieces.push(await compressFrame(data.subarray(i, i + (128 << 10)), 19));
    await decodesAtAndUnderTheLimit('our upload framing', Buffer.concat(pieces), data);
  } finally {
    dir.remove();
  }
});

test('the window bound is zstd -d\'s own: what --long=31 writes (file over 128 MiB, or pipe) is refused by both, before anything is inflated', async () => {
  const dir = tempDir();
  try {
    const zeros = Buffer.alloc(129 << 20);
    const file = zstdTool(['-1', '--long=31'], zeros, 'file', dir.path);
    const pipe = zstdTool(['-1', '--long=31'], text, 'pipe', dir.path);
    assert.deepEqual([file, pipe].map((s) => listFrames(s)[0].windowSize), [BigInt(zeros.byteLength), 2n ** 31n]);
    for (const stream of [file, pipe]) {
      const cli = spawnSync('zstd', ['-d', '-c'], { input: stream, maxBuffer: 1 << 30 });
      assert.notEqual(cli.status, 0);
      assert.match(cli.stderr.toString(), /Window size larger than maximum/);
      await assert.rejects(decompressBounded(stream, 1024 ** 3), ZstdWindowTooLarge);
    }
    const justOver = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 << 3) | 1, 0x03, 0x00, 0x00, 0x41]);
    await assert.rejects(decompressBounded(justOver, 1024 ** 3), /needs a 144 MiB window/);
  } finally {
    dir.remove();
  }
});

test('an aborted signal (the deadline) stops inflating between frames, with its own reason', async () => {
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < text.byteLength; i += 256 << 10) pieces.push(await compressFrame(text.subarray(i, i + (256 << 10)), 1));
  const deadline = new AbortController();
  const reason = new Error('export stopped before the Lambda deadline');
  deadline.abort(reason);
  await assert.rejects(sqliteBytes(Buffer.concat(pieces), 1 << 30, deadline.signal), (err) => err === reason);
});
