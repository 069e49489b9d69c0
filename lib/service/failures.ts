// The last transient failure of a staged upload, noted beside its receipts
// (failed/<host>/<snapshot-id>.json): SQS keeps no error with a message, so this
// is how `snapmeta dlq list` tells an operator why an upload is in the DLQ.
import type { S3Client } from '@aws-sdk/client-s3';
import { decodeEventKey, parseStagingKey, receiptKey, type StagingKey } from '../core/keys.ts';
import { redactSecrets } from '../core/secrets.ts';
import { GENERATOR } from '../core/version.ts';
import type { MetadataStore } from '../stores/store.ts';
import type { StagedObjectRef } from './process-upload.ts';
import { putStagingJson, readStagingJson } from './receipts.ts';

export interface FailureNote {
  note_version: 1;
  status: 'failed';
  host?: string;
  snapshot_id?: string;
  source: { bucket: string; key: string; version_id?: string };
  error: { name: string; message: string };
  /** SQS's ApproximateReceiveCount of the delivery that failed. */
  attempt: number;
  failed_at: string;
  generator: string;
}

/** Best effort: a note that cannot be written must not hide the failure itself. */
export async function noteFailure(s3: S3Client, ref: StagedObjectRef, err: unknown, attempt: number): Promise<boolean> {
  const key = decoded(ref.encodedKey);
  const staged = key === undefined ? undefined : stagedOrMalformed(key);
  if (key === undefined || staged === undefined) return false;
  const note: FailureNote = {
    note_version: 1,
    status: 'failed',
    host: staged === 'malformed' ? undefined : staged.host,
    snapshot_id: staged === 'malformed' ? undefined : staged.snapshotId,
    source: { bucket: ref.bucket, key: redactSecrets(key), version_id: ref.versionId },
    error: { name: (err as Error)?.name ?? 'Error', message: redactSecrets(String((err as Error)?.message ?? err)).slice(0, 2000) },
    attempt,
    failed_at: new Date().toISOString(),
    generator: GENERATOR,
  };
  const noteKey = failureKeyOf(key)!;
  try {
    await putStagingJson(s3, ref.bucket, noteKey, note);
    return true;
  } catch {
    return false;
  }
}

function decoded(encodedKey: string): string | undefined {
  try {
    return decodeEventKey(encodedKey);
  } catch {
    return undefined;
  }
}

/** Where the failure note of a staged object's key is; undefined for a key outside incoming/. */
export function failureKeyOf(key: string): string | undefined {
  const staged = stagedOrMalformed(key);
  return staged && receiptKey('failed', staged === 'malformed' ? { key } : staged);
}

/** The upload's host and snapshot; 'malformed' inside incoming/ (noted under the key's hash); undefined outside it. */
function stagedOrMalformed(key: string): StagingKey | 'malformed' | undefined {
  try {
    return parseStagingKey(key);
  } catch {
    return 'malformed';
  }
}

export const readFailureNote = (staging: MetadataStore, key: string) => readStagingJson<FailureNote>(staging, key);
