// The two rules every fault must leave intact, checked on the wire at the
// moment they matter (the proxy asks before it forwards the request):
//  - a manifest is written only when its database is already there;
//  - a staged upload is deleted only when its database, manifest and receipt are.
// And the end state of an upload: exported exactly once, consistent, safe.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { decodeManifest } from '../../../lib/core/manifest.ts';
import { readReceipt } from '../../../lib/service/receipts.ts';
import { metadataKeys } from '../../../lib/core/keys.ts';
import { S3MetadataStore } from '../../../lib/stores/s3-store.ts';
import { parseStagingKey, receiptKey } from '../../../lib/core/keys.ts';
import { exactKey, type FaultProxy, type S3Request } from './fault-proxy.ts';

export interface Buckets {
  stagingBucket: string;
  backupBucket: string;
  /** SNAPMETA_BACKUP_PREFIX ('' or ending in '/'). */
  prefix?: string;
}

/** Installs the checks on proxy; returns the list violations are added to. `s3` must not go through the proxy. */
export function guardInvariants(proxy: FaultProxy, s3: S3Client, buckets: Buckets): string[] {
  const violations: string[] = [];
  const backup = new S3MetadataStore(s3, buckets.backupBucket);
  const staging = new S3MetadataStore(s3, buckets.stagingBucket);
  const isCreate = (r: S3Request) => (r.method === 'PUT' && !r.query.has('partNumber')) || (r.method === 'POST' && r.query.has('uploadId'));
  proxy.beforeForward = async (r) => {
    if (r.bucket === buckets.backupBucket && isCreate(r) && r.key.endsWith('/manifest.json.zst')) {
      const db = r.key.replace(/manifest\.json\.zst$/, 'db.zst.age');
      if (!(await backup.head(db))) violations.push(`manifest ${r.key} written before its database`);
    }
    if (r.bucket === buckets.stagingBucket && r.method === 'DELETE' && r.key.startsWith('incoming/')) {
      const staged = parseStagingKey(r.key)!;
      const keys = metadataKeys(buckets.prefix ?? '', staged.snapshotId);
      const missing = [
        ...(await backup.head(keys.dbKey) ? [] : ['database']),
        ...(await backup.head(keys.manifestKey) ? [] : ['manifest']),
        ...(await staging.head(receiptKey('processed', staged)) ? [] : ['receipt']),
      ];
      if (missing.length) violations.push(`${r.key} deleted while its ${missing.join(', ')} ${missing.length > 1 ? 'were' : 'was'} missing`);
    }
  };
  return violations;
}

/**
 * An upload's end state: database and manifest written to S3 exactly once
 * (counting what S3 accepted, retries included), the manifest committing that
 * database, a processed receipt, and the staged upload deleted (or kept, if told).
 */
export async function assertExportedOnce(proxy: FaultProxy, s3: S3Client, buckets: Buckets, stagedKey: string, opts: { stagedKept?: boolean } = {}) {
  const staged = parseStagingKey(stagedKey)!;
  const { dbKey, manifestKey } = metadataKeys(buckets.prefix ?? '', staged.snapshotId);
  assert.equal(proxy.succeeded('PUT', exactKey(dbKey)).length, 1, `${dbKey} stored once`);
  assert.equal(proxy.succeeded('PUT', exactKey(manifestKey)).length, 1, `${manifestKey} stored once`);
  const backup = new S3MetadataStore(s3, buckets.backupBucket);
  const db = (await backup.get(dbKey))!;
  const manifest = await decodeManifest((await backup.get(manifestKey))!);
  assert.equal(manifest.db.sha256, createHash('sha256').update(db).digest('hex'), 'the manifest commits the database that is there');
  const staging = new S3MetadataStore(s3, buckets.stagingBucket);
  const receipt = await readReceipt(staging, receiptKey('processed', staged));
  assert.ok(receipt && (receipt.status === 'published' || receipt.status === 'duplicate'), `processed receipt for ${stagedKey}`);
  assert.equal(receipt.outputs?.db.sha256, manifest.db.sha256);
  assert.equal(Boolean(await staging.head(stagedKey)), Boolean(opts.stagedKept), opts.stagedKept ? 'staged upload kept' : 'staged upload deleted');
  return { receipt, manifest };
}
