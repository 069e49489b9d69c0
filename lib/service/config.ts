// The export function's configuration, from its environment. Anything wrong
// here stops the function at start-up (the init fails), before any message is
// taken and lost to a misconfiguration.
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { HARD_MAX_INDEX_BYTES } from '../core/index-bytes.ts';
import type { ProcessUploadConfig } from './process-upload.ts';
import { parseRecipients } from '../core/recipients.ts';
import { connectionFromEnv, createSsmClient } from './aws-clients.ts';
import { parseBoolean, parseChoice, parseWhole } from './env.ts';
import { shown } from '../core/secrets.ts';
import { KEY_SCHEMES } from '../core/keys.ts';
import { DB_FORMATS } from '../core/manifest.ts';
import { DEFAULT_FUNCTION } from './settings.ts';
import { ParameterRecipients, type ParameterReader, type RefreshLog } from './parameter-recipients.ts';

export type { ParameterReader };

export interface ExportConfig extends ProcessUploadConfig {
  /** When set, events from any other bucket are ignored. */
  stagingBucket?: string;
  /** Set when the recipients live in SSM: the list as of now, re-read when older than the refresh interval. */
  currentRecipients?: (log?: RefreshLog) => Promise<string[]>;
}

/**
 * Recipients come from SNAPMETA_AGE_RECIPIENTS, or else from the SSM String
 * parameter named by SNAPMETA_RECIPIENTS_PARAMETER (how the CDK stack deploys
 * without recipients in its template), read now and again every
 * SNAPMETA_RECIPIENTS_REFRESH_SECONDS. Without one valid recipient: NO_RECIPIENTS.
 */
export async function loadExportConfig(env: NodeJS.ProcessEnv = process.env, readParameter: ParameterReader = ssmParameter(env), now = Date.now): Promise<ExportConfig> {
  const backupBucket = env.SNAPMETA_BACKUP_BUCKET;
  if (!backupBucket) throw new Error('SNAPMETA_BACKUP_BUCKET is not set: the export function needs the bucket to publish into');
  const parameter = env.SNAPMETA_AGE_RECIPIENTS ? undefined : env.SNAPMETA_RECIPIENTS_PARAMETER;
  const refreshSeconds = parseWhole('SNAPMETA_RECIPIENTS_REFRESH_SECONDS', env.SNAPMETA_RECIPIENTS_REFRESH_SECONDS, DEFAULT_FUNCTION.recipientsRefreshSeconds, 0, 86_400);
  const fromParameter = parameter ? new ParameterRecipients(parameter, readParameter, refreshSeconds * 1000, now) : undefined;
  const memory = env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
  return {
    recipients: fromParameter
      ? await fromParameter.load()
      : parseRecipients([env.SNAPMETA_AGE_RECIPIENTS ?? ''], { from: 'SNAPMETA_AGE_RECIPIENTS', howToGive: 'set it to age1… public keys, or SNAPMETA_RECIPIENTS_PARAMETER to an SSM parameter holding them' }),
    ...(fromParameter ? { currentRecipients: (log?: RefreshLog) => fromParameter.current(log) } : {}),
    ...(memory ? { functionMemoryMb: parseWhole('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', memory, 0, 0, 10_240) } : {}),
    backupBucket,
    backupPrefix: normalisePrefix(env.SNAPMETA_BACKUP_PREFIX ?? ''),
    deleteStaged: parseBoolean('SNAPMETA_DELETE_STAGED', env.SNAPMETA_DELETE_STAGED, true),
    maxIndexBytes: parseSize('SNAPMETA_MAX_INDEX_BYTES', env.SNAPMETA_MAX_INDEX_BYTES),
    format: parseChoice('SNAPMETA_FORMAT', env.SNAPMETA_FORMAT, DB_FORMATS, DEFAULT_FUNCTION.format),
    keyScheme: parseChoice('SNAPMETA_KEY_SCHEME', env.SNAPMETA_KEY_SCHEME, KEY_SCHEMES, DEFAULT_FUNCTION.keyScheme),
    allowUnnamedIds: parseBoolean('SNAPMETA_ALLOW_UNNAMED_IDS', env.SNAPMETA_ALLOW_UNNAMED_IDS, DEFAULT_FUNCTION.allowUnnamedIds),
    checkBlobs: parseBoolean('SNAPMETA_CHECK_BLOBS', env.SNAPMETA_CHECK_BLOBS, DEFAULT_FUNCTION.checkBlobs),
    blobPrefix: env.SNAPMETA_BLOB_PREFIX ? normalisePrefix(env.SNAPMETA_BLOB_PREFIX, 'SNAPMETA_BLOB_PREFIX') : undefined,
    stagingBucket: env.SNAPMETA_STAGING_BUCKET || undefined,
  };
}

function ssmParameter(env: NodeJS.ProcessEnv): ParameterReader {
  return async (name, signal) => {
    const ssm = createSsmClient(connectionFromEnv('SSM', env));
    try {
      const out = await ssm.send(new GetParameterCommand({ Name: name }), { abortSignal: signal });
      return out.Parameter?.Value ?? '';
    } finally {
      ssm.destroy();
    }
  };
}

/** 'backups' and 'backups/' both mean keys under backups/; '' means the bucket root. */
function normalisePrefix(prefix: string, name = 'SNAPMETA_BACKUP_PREFIX'): string {
  if (prefix.startsWith('/') || prefix.split('/').includes('..')) {
    throw new Error(`${name} ${shown(prefix)} must be relative: no leading "/" and no ".."`);
  }
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function parseSize(name: string, value: string | undefined): number {
  if (value === undefined || value === '') return HARD_MAX_INDEX_BYTES;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0 || n > HARD_MAX_INDEX_BYTES) {
    throw new Error(`${name} must be a whole number of bytes in 1..${HARD_MAX_INDEX_BYTES}, not ${shown(value)}`);
  }
  return n;
}
