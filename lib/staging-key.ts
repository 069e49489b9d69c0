// Keys in the staging bucket. An agent uploads to incoming/<host>/<snapshot-id>.db
// (or .db.zst); <host> and <snapshot-id> then become parts of output and receipt
// keys, so they are checked here, once, before they go anywhere else.
import { createHash } from 'node:crypto';
import { SnapmetaError } from './errors.ts';

export const STAGING_PREFIX = 'incoming/';
export const INDEX_SUFFIXES = ['.db.zst', '.db'] as const;

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

export type ReceiptFolder = 'processed' | 'rejected';

/** S3 event notifications URL-encode object keys, with '+' for a space. */
export function decodeEventKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new SnapmetaError('BAD_KEY', `the event's object key ${JSON.stringify(encoded)} is not valid URL encoding`);
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
  return `${folder}/${createHash('sha256').update(staged.key).digest('hex')}.json`;
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
    : Buffer.byteLength(value) > maxBytes ? `is longer than ${maxBytes} bytes`
    : undefined;
}

function badKey(key: string, why: string): SnapmetaError {
  return new SnapmetaError('BAD_KEY', `bad staging key ${JSON.stringify(key)}: ${why}`);
}
