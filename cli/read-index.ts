// An index file from disk, whole, for `snapmeta export`.
import { open, stat } from 'node:fs/promises';
import { readHashed } from '../lib/codecs/hash.ts';
import { SnapmetaError } from '../lib/core/errors.ts';
import { HARD_MAX_INDEX_BYTES } from '../lib/core/index-bytes.ts';

// Pieces small enough that hashing one overlaps reading the next.
const READ_PIECE = 1 << 24;

/** A file of any size in one Buffer (readFile refuses 2 GiB and more), with its sha256. */
export async function readIndexFile(path: string): Promise<{ bytes: Buffer; sha256: string }> {
  const { size } = await stat(path);
  if (size > HARD_MAX_INDEX_BYTES) {
    throw new SnapmetaError('INDEX_TOO_LARGE', `${path} is ${size} bytes; the most one export can hold is ${HARD_MAX_INDEX_BYTES}`);
  }
  const file = await open(path, 'r');
  try {
    const readAt = async (into: Buffer, offset: number) =>
      (await file.read(into, offset, Math.min(size - offset, READ_PIECE), offset)).bytesRead;
    return await readHashed(size, readAt, path);
  } finally {
    await file.close();
  }
}
