// The deployable artefact itself: the x64 bundle that infra/bundle.ts builds
// for the stack's asset, loaded outside the project and invoked by the local
// stack's event source exactly as Lambda would, publishes an export that the
// Debian tools restore to the same rows as the sqlite3 pruning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BUNDLE_FILE, bundleFunction } from '../../infra/bundle.ts';
import { LOCAL_NAMES } from '../../lib/service/settings.ts';
import type { ExportHandler } from '../../functions/export-handler.ts';
import { S3MetadataStore } from '../../lib/stores/s3-store.ts';
import { startLocalStack } from '../../local/stack.ts';
import { waitFor } from '../support/aws/harness.ts';
import { compareDatabases } from '../support/compare.ts';
import { debianRestore, makeKeys, tempDir, writeTemp } from '../support/export-helpers.ts';
import { buildFixture } from '../support/fixtures.ts';
import { nativePrune } from '../support/native-prune.ts';

test('the bundled x64 function exports through the local stack', { timeout: 120_000 }, async () => {
  const dir = tempDir('snapmeta-bundle-e2e-');
  const keys = await makeKeys(dir.path);
  const outDir = join(dir.path, 'asset');
  bundleFunction({ architecture: 'x86_64', outDir });
  const stack = await startLocalStack({
    recipients: [keys.recipient],
    visibilityTimeoutSeconds: 2,
    onError: (err) => assert.fail(`local stack error: ${err}`),
    handler: async (endpoint) => {
      // The configuration the CDK stack gives the function, pointed at this server.
      Object.assign(process.env, {
        SNAPMETA_AGE_RECIPIENTS: keys.recipient,
        SNAPMETA_BACKUP_BUCKET: LOCAL_NAMES.backupBucket,
        SNAPMETA_STAGING_BUCKET: LOCAL_NAMES.stagingBucket,
        AWS_ENDPOINT_URL_S3: endpoint,
        SNAPMETA_S3_FORCE_PATH_STYLE: 'true',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      });
      const bundle = (await import(pathToFileURL(join(outDir, BUNDLE_FILE)).href)) as { handler: ExportHandler };
      return bundle.handler;
    },
  });
  try {
    const { bytes, ids } = await buildFixture('v2');
    const id = ids.incremental;
    const host = id.split('_')[0].split('.')[0];
    await stack.s3.send(new PutObjectCommand({ Bucket: LOCAL_NAMES.stagingBucket, Key: `incoming/${host}/${id}.db`, Body: bytes }));
    const staging = new S3MetadataStore(stack.s3, LOCAL_NAMES.stagingBucket);
    const backups = new S3MetadataStore(stack.s3, LOCAL_NAMES.backupBucket);
    const receiptKey = `processed/${host}/${id}.json`;
    await waitFor(async () => (await staging.head(receiptKey)) !== undefined || (await staging.head(`rejected/${host}/${id}.json`)) !== undefined, 60_000, 'the receipt');
    const receipt = JSON.parse(Buffer.from((await staging.get(receiptKey))!).toString('utf8'));
    assert.equal(receipt.status, 'published', JSON.stringify(receipt));

    const exportDir = join(dir.path, 'metadata', id);
    writeTemp(dir.path, `metadata/${id}/db.zst.age`, (await backups.get(`metadata/${id}/db.zst.age`))!);
    writeTemp(dir.path, `metadata/${id}/manifest.json.zst`, (await backups.get(`metadata/${id}/manifest.json.zst`))!);
    const restored = join(dir.path, 'restored.db');
    debianRestore(exportDir, keys, restored);
    const expected = join(dir.path, 'expected.db');
    nativePrune(writeTemp(dir.path, 'index.db', bytes), expected, 'v2', id);
    assert.deepEqual(compareDatabases(expected, restored), []);
    assert.equal(await staging.head(`incoming/${host}/${id}.db`), undefined, 'the staged upload is deleted once the export is safe');
  } finally {
    await stack.stop();
    dir.remove();
  }
});
