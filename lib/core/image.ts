// The pruned database as a SQLite file (format sqlite): the dump replayed into
// a fresh database, so both formats hold the same rows, checked the same way.
// It is built in place, in a buffer of our own, and streamed out of it with no
// second whole copy. Why and how: docs/design.md, "SQLite image".
import { constants } from 'node:buffer';
import { scalar, type SqlJsStatic } from './sqlite.ts';

const PAGE_SIZE = 4096;
const PIECE = 4 << 20;

/**
 * Pieces of the image, in order; the image is built when the first is asked
 * for, in a buffer of `capacity` bytes (more when it does not fit). Throws
 * what the dump throws.
 */
export function* sqliteImage(SQL: SqlJsStatic, dump: Iterable<Uint8Array>, capacity: number): Generator<Uint8Array> {
  const file = Buffer.allocUnsafe(Math.min(constants.MAX_LENGTH, Math.max(capacity, 1 << 20)));
  file.set(emptyDatabase(SQL));
  const db = new SQL.Database(file);
  let image: Uint8Array;
  try {
    db.run('PRAGMA journal_mode=OFF');
    const decoder = new TextDecoder();
    for (const chunk of dump) db.exec(decoder.decode(chunk));
    image = imageInPlace(db, file) ?? db.export();
  } finally {
    db.close();
  }
  for (let at = 0; at < image.byteLength; at += PIECE) yield image.subarray(at, at + PIECE);
}

let empty: Uint8Array | undefined;

/** A valid database of one page, for a fresh one to grow from. */
function emptyDatabase(SQL: SqlJsStatic): Uint8Array {
  if (!empty) {
    const db = new SQL.Database();
    try {
      db.run(`PRAGMA page_size=${PAGE_SIZE}; VACUUM`);
      empty = db.export();
    } finally {
      db.close();
    }
  }
  return empty;
}

/**
 * The finished database, read from our own buffer, when every page is there:
 * it fit the buffer, its header there counts every page, and it has no free
 * page (a replay only appends; a VACUUM would shrink the file, which the file
 * system does by moving it to a new array). Otherwise undefined.
 */
function imageInPlace(db: InstanceType<SqlJsStatic['Database']>, file: Buffer): Uint8Array | undefined {
  const pages = Number(scalar(db, 'PRAGMA page_count'));
  const pageSize = Number(scalar(db, 'PRAGMA page_size'));
  const size = pages * pageSize;
  if (Number(scalar(db, 'PRAGMA freelist_count')) > 0) {
    db.run('VACUUM');
    return undefined;
  }
  if (size > file.byteLength || file.readUInt32BE(28) !== pages || file.readUInt16BE(16) !== pageSize % 65536) return undefined;
  return file.subarray(0, size);
}
