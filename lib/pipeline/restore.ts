// The operator's proof that a backup is restorable: decrypt, decompress and
// load an export into a SQLite file, then check it against its manifest.
import { ageDecryptStream } from '../codecs/age.ts';
import { decompressedFrames } from '../codecs/zstd-stream.ts';
import { SnapmetaError } from '../core/errors.ts';
import { digestTap } from '../codecs/hash.ts';
import type { DbFormat, Manifest } from '../core/manifest.ts';
import { StatementSplitter } from '../core/sql-split.ts';
import { all, isCorruptionMessage, loadSqlJs, type Database } from '../core/sqlite.ts';
import { ZstdFormatError } from '../codecs/zstd.ts';

export interface RestoreResult {
  format: DbFormat;
  rows: Record<string, number>;
  integrity: 'ok';
  /** The restored database, checked: a SQLite file's bytes. */
  image: Uint8Array;
}

/**
 * Restores an export's db.zst.age (either format) with one of `identities`
 * and checks it: its sha256 and size against the manifest, SQLite's
 * integrity_check, and every table's row count against the manifest.
 * Throws SnapmetaError BAD_ARGUMENT when no identity decrypts it, CORRUPT
 * when it is damaged or disagrees with its manifest.
 */
export async function restoreExport(opts: {
  manifest: Manifest;
  db: ReadableStream<Uint8Array>;
  identities: string[];
}): Promise<RestoreResult> {
  const { manifest } = opts;
  const tap = digestTap();
  const SQL = await loadSqlJs();
  let db: Database | undefined;
  try {
    const plain = await decrypt(opts.db.pipeThrough(tap.stream), opts.identities);
    if (manifest.db.format === 'sqlite') {
      db = new SQL.Database(await concatenated(decompressedFrames(plain)));
    } else {
      db = new SQL.Database();
      await replayDump(db, decompressedFrames(plain));
    }
    checkDigest(tap.result(), manifest);
    checkIntegrity(db);
    const rows = checkRows(db, manifest);
    return { format: manifest.db.format, rows, integrity: 'ok', image: db.export() };
  } catch (err) {
    throw restoreError(err);
  } finally {
    db?.close();
  }
}

function decrypt(cipher: ReadableStream<Uint8Array>, identities: string[]): Promise<ReadableStream<Uint8Array>> {
  return ageDecryptStream(cipher, identities).catch((err: Error) => {
    throw new SnapmetaError('BAD_ARGUMENT', `cannot decrypt db.zst.age with the given identity: ${err.message}`);
  });
}

async function concatenated(parts: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for await (const part of parts) pieces.push(part);
  return Buffer.concat(pieces);
}

/** Replays a dump into `db` statement by statement, as its text arrives. */
async function replayDump(db: Database, parts: AsyncIterable<Uint8Array>): Promise<void> {
  const splitter = new StatementSplitter();
  const text = utf8Decoder();
  for await (const part of parts) {
    const sql = splitter.push(text(part));
    if (sql) replay(db, sql);
  }
  if (splitter.push(text()).trim() || splitter.rest().trim()) throw new ZstdFormatError('the dump ends inside a statement');
}

/** Decodes UTF-8 a part at a time (no part: the end); bytes that are not UTF-8 are CORRUPT. */
function utf8Decoder(): (part?: Uint8Array) => string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return (part) => {
    try {
      return part ? decoder.decode(part, { stream: true }) : decoder.decode();
    } catch {
      // A JS string cannot hold those bytes; the sqlite3 shell keeps them.
      throw new SnapmetaError('CORRUPT', 'the dump holds text that is not valid UTF-8, which this restore cannot load exactly; restore it with age -d | zstd -d | sqlite3 -safe');
    }
  };
}

/** Statements of the dump; one that SQLite refuses means the export is damaged. */
function replay(db: Database, sql: string): void {
  try {
    db.exec(sql);
  } catch (err) {
    throw new SnapmetaError('CORRUPT', `the dump does not replay: ${(err as Error).message}`, { cause: err });
  }
}

function checkDigest(digest: { sha256: string; size: number }, manifest: Manifest): void {
  if (digest.sha256 !== manifest.db.sha256 || digest.size !== manifest.db.size) {
    throw new SnapmetaError('CORRUPT', `db.zst.age does not match its manifest (sha256 ${digest.sha256}, ${digest.size} bytes; manifest says ${manifest.db.sha256}, ${manifest.db.size} bytes)`);
  }
}

function checkIntegrity(db: Database): void {
  const integrity = all(db, 'PRAGMA integrity_check').map((row) => String(row[0]));
  if (integrity.join() !== 'ok') throw new SnapmetaError('CORRUPT', `restored database fails integrity_check: ${integrity.slice(0, 3).join('; ')}`);
}

/** Each table's rows, which must be as many as the manifest says. */
function checkRows(db: Database, manifest: Manifest): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const [table, expected] of Object.entries(manifest.rows)) {
    rows[table] = Number(all(db, `SELECT count(*) FROM "${table.replace(/"/g, '""')}"`)[0][0]);
    if (rows[table] !== expected) throw new SnapmetaError('CORRUPT', `restored table ${table} has ${rows[table]} rows, the manifest says ${expected}`);
  }
  return rows;
}

/** A damaged stream or database as CORRUPT; anything else as it is. */
function restoreError(err: unknown): unknown {
  if (err instanceof ZstdFormatError) return new SnapmetaError('CORRUPT', `db.zst.age does not hold a zstd stream: ${err.message}`);
  if (err instanceof Error && isCorruptionMessage(err.message)) return new SnapmetaError('CORRUPT', `restored database is damaged: ${err.message}`);
  return err;
}
