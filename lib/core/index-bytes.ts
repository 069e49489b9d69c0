// Turning an uploaded object into the bytes of a plain SQLite database, with
// the specific errors an operator needs: not SQLite at all, truncated, too big.
import { SnapmetaError } from './errors.ts';
import { DecompressedTooLarge, ZstdFormatError, ZstdWindowTooLarge, decompressBounded, isZstd } from '../codecs/zstd.ts';

/** Node's own ceiling for one Buffer (4 GiB here): sql.js keeps the database in one. */
export const HARD_MAX_INDEX_BYTES = 4 * 1024 ** 3 - 1;

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Plain SQLite bytes from an upload: zstd is recognised by its magic number
 * (never by name) and inflated no further than maxBytes; an aborted signal
 * stops it between zstd frames with its reason (a transient error).
 * Throws SnapmetaError NOT_SQLITE, CORRUPT (a damaged or truncated file or
 * zstd stream) or INDEX_TOO_LARGE (over maxBytes, or a zstd window over ours).
 */
export async function sqliteBytes(input: Uint8Array, maxBytes = HARD_MAX_INDEX_BYTES, signal?: AbortSignal): Promise<Uint8Array> {
  let bytes = input;
  if (isZstd(input)) {
    try {
      bytes = await decompressBounded(input, maxBytes, signal);
    } catch (err) {
      throw signal?.aborted && err === signal.reason ? err : zstdError(err);
    }
  } else if (input.byteLength > maxBytes) {
    throw new SnapmetaError('INDEX_TOO_LARGE', `the index is ${input.byteLength} bytes, over the limit of ${maxBytes}`);
  }
  checkHeader(bytes);
  return bytes;
}

/**
 * A size or a window over our limits is INDEX_TOO_LARGE: the stream may be
 * valid, but asks for more than any decoder here is given, and the agent fixes
 * it by recompressing. Anything else the headers or the decoder refuse is
 * CORRUPT (allocation failures aside: those stay transient).
 */
function zstdError(err: unknown): unknown {
  if (err instanceof DecompressedTooLarge || err instanceof ZstdWindowTooLarge) {
    return new SnapmetaError('INDEX_TOO_LARGE', `the zstd-compressed index ${err.message}`);
  }
  if (err instanceof ZstdFormatError || !(err instanceof RangeError)) {
    return new SnapmetaError('CORRUPT', `the zstd-compressed index is damaged: ${(err as Error).message}`);
  }
  return err;
}

/**
 * The 100-byte SQLite header tells NOT_SQLITE from a truncated or damaged
 * file before SQLite tries (docs/design.md, "SQLite header checks").
 */
function checkHeader(bytes: Uint8Array): void {
  if (bytes.byteLength === 0) throw new SnapmetaError('NOT_SQLITE', 'the upload is empty (0 bytes)');
  if (bytes.byteLength < 100 || !SQLITE_MAGIC.equals(bytes.subarray(0, 16))) {
    if (bytes.byteLength >= 16 && SQLITE_MAGIC.equals(bytes.subarray(0, 16))) {
      throw new SnapmetaError('CORRUPT', `the SQLite file is truncated: ${bytes.byteLength} bytes, shorter than its 100-byte header`);
    }
    throw new SnapmetaError('NOT_SQLITE', 'not an SQLite database (no "SQLite format 3" header)');
  }
  if (![1, 2].includes(bytes[18]) || ![1, 2].includes(bytes[19])) {
    throw new SnapmetaError('CORRUPT', `the SQLite header is damaged: file format versions ${bytes[18]}/${bytes[19]} (expected 1 or 2)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 100);
  const raw = view.getUint16(16);
  // 1 stands for 65536, which 16 bits cannot hold.
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new SnapmetaError('CORRUPT', `the SQLite header is damaged: page size ${raw}`);
  }
  if (bytes.byteLength % pageSize !== 0) {
    throw new SnapmetaError('CORRUPT', `the SQLite file is truncated: ${bytes.byteLength} bytes is not a whole number of ${pageSize}-byte pages`);
  }
  // The in-header page count is only valid when its "version valid for" matches the change counter.
  const pages = view.getUint32(28);
  if (pages > 0 && view.getUint32(24) === view.getUint32(92) && pages * pageSize > bytes.byteLength) {
    throw new SnapmetaError(
      'CORRUPT',
      `the SQLite file is truncated: its header says ${pages} pages of ${pageSize} bytes (${pages * pageSize}), the file has ${bytes.byteLength}`,
    );
  }
}
