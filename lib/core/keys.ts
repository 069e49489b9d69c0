// Every object key the service reads or writes, in one place. Staging bucket:
// an agent uploads to incoming/<host>/<snapshot-id>.db (or .db.zst) and finds its
// receipt under processed/ or rejected/. Backup bucket: metadata/<key>/ holds
// db.zst.age and manifest.json.zst, <key> being the snapshot id (plain) or a
// hash of it (hashed). <host> and <snapshot-id> come from the upload, so they
// are checked here, once, before they become parts of any key.
import { sha256, sha256Hex } from '../codecs/hash.ts';
import { SnapmetaError } from './errors.ts';
import { holdsIdentity, redactSecrets, shown } from './secrets.ts';

export const STAGING_PREFIX = 'incoming/';
export const INDEX_SUFFIXES = ['.db.zst', '.db'] as const;
export const RECEIPT_FOLDERS = ['processed', 'rejected'] as const;
export const RECEIPT_PREFIXES = RECEIPT_FOLDERS.map((folder) => `${folder}/`);
/** Where the function notes the last transient failure of an upload (what `snapmeta dlq list` shows). */
export const FAILED_FOLDER = 'failed';
export const METADATA_FOLDER = 'metadata';
export const METADATA_PREFIX = `${METADATA_FOLDER}/`;
/** vaultik's blob layout in the backup bucket: <prefix>blobs/<h[0:2]>/<h[2:4]>/<h>. */
export const BLOBS_PREFIX = 'blobs/';
/** Everything the function writes in the staging bucket: receipts and failure notes. */
export const STAGING_OUTPUT_PREFIXES = [...RECEIPT_PREFIXES, `${FAILED_FOLDER}/`];
export const DB_FILE = 'db.zst.age';
export const MANIFEST_FILE = 'manifest.json.zst';

// DNS caps a hostname at 253 bytes; a vaultik snapshot id embeds the hostname
// plus a timestamp, and every key must stay well inside S3's 1024-byte limit
// with an output prefix in front of it.
export const MAX_HOST_BYTES = 253;
export const MAX_SNAPSHOT_ID_BYTES = 320;

export interface StagingKey {
  key: string;
  host: string;
  snapshotId: string;
  compressed: boolean;
}

export type ReceiptFolder = (typeof RECEIPT_FOLDERS)[number] | typeof FAILED_FOLDER;

/** S3 event notifications URL-encode object keys, with '+' for a space. */
export function decodeEventKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new SnapmetaError('BAD_KEY', `the event's object key ${shown(encoded)} is not valid URL encoding`);
  }
}

/** The inverse of decodeEventKey, as S3 writes keys into event notifications ('/' kept). */
export function encodeEventKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');
}

/**
 * The host and snapshot of a staged upload; undefined for a key outside
 * incoming/ (not ours to process). Throws BAD_KEY for a malformed key inside it.
 */
export function parseStagingKey(key: string): StagingKey | undefined {
  if (!key.startsWith(STAGING_PREFIX)) return undefined;
  const rest = key.slice(STAGING_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw badKey(key, 'expected incoming/<host>/<snapshot-id>.db or .db.zst');
  const host = rest.slice(0, slash);
  const file = rest.slice(slash + 1);
  const suffix = INDEX_SUFFIXES.find((s) => file.endsWith(s));
  if (!suffix) throw badKey(key, 'the file name must end in .db or .db.zst');
  const snapshotId = file.slice(0, -suffix.length);
  checkPart(key, 'host', host, MAX_HOST_BYTES);
  checkPart(key, 'snapshot id', snapshotId, MAX_SNAPSHOT_ID_BYTES);
  return { key, host, snapshotId, compressed: suffix === '.db.zst' };
}

/** Where an agent uploads an index; validates host and snapshot id the same way. */
export function stagingKey(host: string, snapshotId: string, compressed: boolean): string {
  const key = `${STAGING_PREFIX}${host}/${snapshotId}${compressed ? '.db.zst' : '.db'}`;
  parseStagingKey(key);
  return key;
}

/**
 * Where the outcome of a staged upload is written. A key too malformed to name
 * a host and snapshot gets a receipt named by its sha256 instead, one level up,
 * so it can never collide with a <host>/<snapshot-id> receipt.
 */
export function receiptKey(folder: ReceiptFolder, staged: StagingKey | { key: string }): string {
  if ('host' in staged) return `${folder}/${staged.host}/${staged.snapshotId}.json`;
  return `${folder}/${sha256Hex(Buffer.from(staged.key))}.json`;
}

// C0 controls, DEL and C1 controls: invisible in logs and consoles, and some
// tools treat them as separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function checkPart(key: string, what: string, value: string, maxBytes: number): void {
  const problem = keySegmentProblem(value, maxBytes);
  if (problem) throw badKey(key, `the ${what} ${problem}`);
}

/**
 * Why a value cannot be one segment of an object key (or a directory name),
 * or undefined when it can: nothing in it may leave or split the segment, or
 * turn into something else for a tool that URL-decodes keys (%2F).
 */
export function keySegmentProblem(value: string, maxBytes: number): string | undefined {
  return value === '' ? 'is empty'
    : value === '.' ? 'is "."'
    : value.includes('..') ? 'contains ".."'
    : value.includes('/') ? 'contains "/"'
    : value.includes('\\') ? 'contains "\\"'
    : value.includes('%') ? 'contains "%"'
    : CONTROL.test(value) ? 'contains a control character'
    : holdsIdentity(value) ? 'holds an age identity (a private key)'
    : Buffer.byteLength(value) > maxBytes ? `is longer than ${maxBytes} bytes`
    : undefined;
}

function badKey(key: string, why: string): SnapmetaError {
  return new SnapmetaError('BAD_KEY', `bad staging key ${shown(key)}: ${why}`);
}

/**
 * How a snapshot's metadata folder is named: `plain` by its id (what the
 * seed's readers fetch), `hashed` by hex(sha256(sha256("vaultik|" + id))), the
 * inner digest taken as raw bytes (what today's vaultik readers fetch), so a
 * bucket listing shows no host, name or time.
 */
export type KeyScheme = 'plain' | 'hashed';
export const KEY_SCHEMES: readonly KeyScheme[] = ['plain', 'hashed'];

export function hashedSnapshotKey(snapshotId: string): string {
  return sha256Hex(sha256(Buffer.from(`vaultik|${snapshotId}`, 'utf8')));
}

export interface MetadataKeys {
  /** The folder's name: the snapshot id, or its hash. */
  key: string;
  dir: string;
  dbKey: string;
  manifestKey: string;
}

/** Where a snapshot's export lives under `prefix` ('' or ending in '/'). */
export function metadataKeys(prefix: string, snapshotId: string, scheme: KeyScheme = 'plain'): MetadataKeys {
  const problem = keySegmentProblem(snapshotId, MAX_SNAPSHOT_ID_BYTES);
  if (problem) throw new SnapmetaError('BAD_KEY', `snapshot id ${JSON.stringify(redactSecrets(snapshotId).slice(0, 80))} ${problem}, so it cannot name an output key`);
  const key = scheme === 'hashed' ? hashedSnapshotKey(snapshotId) : snapshotId;
  const dir = `${prefix}${METADATA_PREFIX}${key}/`;
  return { key, dir, dbKey: `${dir}${DB_FILE}`, manifestKey: `${dir}${MANIFEST_FILE}` };
}

/** Where vaultik keeps a deployment's blobs unless told otherwise: beside its metadata, under `prefix`. */
export const defaultBlobPrefix = (prefix: string) => `${prefix}${BLOBS_PREFIX}`;

/** The folder of a blob's shard, `<blobPrefix><h[0:2]>/<h[2:4]>/`, and the blob's own key in it. */
export function blobKey(blobPrefix: string, hash: string): { shard: string; key: string } {
  const shard = `${blobPrefix}${hash.slice(0, 2)}/${hash.slice(2, 4)}/`;
  return { shard, key: `${shard}${hash}` };
}
