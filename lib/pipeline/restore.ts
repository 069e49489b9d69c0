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

/** Statements of the dump; one that SQLite refuses means the export is damaged. */
function replay(db: Database, sql: string): void {
  try {
    db.exec(sql);
  } catch (err) {
    throw new SnapmetaError('CORRUPT', `the dump does not replay: ${(err as Error).message}`, { cause: err });
  }
}

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
    const plain = await ageDecryptStream(opts.db.pipeThrough(tap.stream), opts.identities).catch((err: Error) => {
      throw new SnapmetaError('BAD_ARGUMENT', `cannot decrypt db.zst.age with the given identity: ${err.message}`);
    });
    if (manifest.db.format === 'sqlite') {
      const parts: Uint8Array[] = [];
      for await (const part of decompressedFrames(plain)) parts.push(part);
      db = new SQL.Database(Buffer.concat(parts));
    } else {
      db = new SQL.Database();
      const splitter = new StatementSplitter();
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const text = (part?: Uint8Array) => {
        try {
          return part ? decoder.decode(part, { stream: true }) : decoder.decode();
        } catch {
          // A JS string cannot hold those bytes; the sqlite3 shell keeps them.
          throw new SnapmetaError('CORRUPT', 'the dump holds text that is not valid UTF-8, which this restore cannot load exactly; restore it with age -d | zstd -d | sqlite3 -safe');
        }
      };
      for await (const part of decompressedFrames(plain)) {
        const sql = splitter.push(text(part));
        if (sql) replay(db, sql);
      }
      if (splitter.push(text()).trim() || splitter.rest().trim()) throw new ZstdFormatError('the dump ends inside a statement');
    }
    const digest = tap.result();
    if (digest.sha256 !== manifest.db.sha256 || digest.size !== manifest.db.size) {
      throw new SnapmetaError('CORRUPT', `db.zst.age does not match its manifest (sha256 ${digest.sha256}, ${digest.size} bytes; manifest says ${manifest.db.sha256}, ${manifest.db.size} bytes)`);
    }
    const integrity = all(db, 'PRAGMA integrity_check').map((r) => String(r[0]));
    if (integrity.join() !== 'ok') throw new SnapmetaError('CORRUPT', `restored database fails integrity_check: ${integrity.slice(0, 3).join('; ')}`);
    const rows: Record<string, number> = {};
    for (const [table, expected] of Object.entries(manifest.rows)) {
      rows[table] = Number(all(db, `SELECT count(*) FROM "${table.replace(/"/g, '""')}"`)[0][0]);
      if (rows[table] !== expected) throw new SnapmetaError('CORRUPT', `restored table ${table} has ${rows[table]} rows, the manifest says ${expected}`);
    }
    return { format: manifest.db.format, rows, integrity: 'ok', image: db.export() };
  } catch (err) {
    if (err instanceof ZstdFormatError) throw new SnapmetaError('CORRUPT', `db.zst.age does not hold a zstd stream: ${err.message}`);
    if (err instanceof Error && isCorruptionMessage(err.message)) throw new SnapmetaError('CORRUPT', `restored database is damaged: ${err.message}`);
    throw err;
  } finally {
    db?.close();
  }
}
