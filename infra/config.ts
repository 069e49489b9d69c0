// Deploy-time choices (stack props or `-c key=value` context), checked at synth
// so a bad value fails `cdk synth` instead of a deployed function.
import type { Node } from 'constructs';
import { HARD_MAX_INDEX_BYTES } from '../lib/core/index-bytes.ts';
import { parseRecipients } from '../lib/core/recipients.ts';
import { defaultBlobPrefix, KEY_SCHEMES, type KeyScheme } from '../lib/core/keys.ts';
import { DB_FORMATS, type DbFormat } from '../lib/core/manifest.ts';
import { parseBoolean, parseChoice } from '../lib/service/env.ts';
import { MEMORY_MODEL, largestIndexFor, memoryMbFor } from '../lib/service/memory.ts';
import { shown } from '../lib/core/secrets.ts';
import {
  ARCHITECTURES,
  type Architecture,
  DEFAULT_FUNCTION,
  DEFAULT_RECIPIENTS_PARAMETER,
  QUEUE,
  SILENT_HOURS,
  STAGING,
} from '../lib/service/settings.ts';

export interface SnapmetaConfig {
  /** age X25519 recipients (age1…); without them the function reads `recipientsParameter`. */
  recipients?: string[];
  /** SSM String parameter holding comma-separated recipients, read at cold start and re-read every `recipientsRefreshSeconds`. */
  recipientsParameter?: string;
  /** How often a warm function re-reads the recipients parameter (default 300). */
  recipientsRefreshSeconds?: number;
  /** Import this existing bucket instead of creating the backup bucket. */
  backupBucketName?: string;
  /** Key prefix in the backup bucket, '' or ending in '/'. */
  backupPrefix?: string;
  architecture?: Architecture;
  memoryMb?: number;
  timeoutSeconds?: number;
  ephemeralStorageMb?: number;
  maxConcurrency?: number;
  maxIndexBytes?: number;
  deleteStaged?: boolean;
  /** What db.zst.age holds: SQL text (default) or a SQLite image (README: compatibility). */
  format?: DbFormat;
  /** Metadata folders named by snapshot id (default) or by its hash. */
  keyScheme?: KeyScheme;
  /** Publish snapshot ids that name no host: for a deployment with one host only. */
  allowUnnamedIds?: boolean;
  /** After publishing, check that the export's blobs exist in the backup bucket (default true). */
  checkBlobs?: boolean;
  /** Where the blobs are, vaultik's `<h[0:2]>/<h[2:4]>/<h>` below it; default `<backupPrefix>blobs/`. */
  blobPrefix?: string;
  /** A host with no export for longer than this is silent (the fleet watch's metric and alarm). */
  silentHours?: number;
  /** Days before staged uploads and receipts expire; must exceed the DLQ retention. */
  stagingExpirationDays?: number;
  /** Email addresses subscribed to the alarm topic. */
  alarmEmails?: string[];
}

export interface ResolvedConfig {
  recipients: { values: string[] } | { parameter: string; refreshSeconds: number };
  backupBucketName: string | undefined;
  backupPrefix: string;
  architecture: Architecture;
  memoryMb: number;
  timeoutSeconds: number;
  ephemeralStorageMb: number;
  maxConcurrency: number;
  maxIndexBytes: number;
  deleteStaged: boolean;
  format: DbFormat;
  keyScheme: KeyScheme;
  allowUnnamedIds: boolean;
  checkBlobs: boolean;
  blobPrefix: string;
  silentHours: number;
  stagingExpirationDays: number;
  alarmEmails: string[];
}

export function resolveConfig(config: SnapmetaConfig): ResolvedConfig {
  const memoryMb = checkInt('memoryMb', config.memoryMb ?? DEFAULT_FUNCTION.memoryMb, 128, 10240);
  const backupPrefix = checkPrefix(config.backupPrefix ?? '');
  return {
    recipients: resolveRecipients(config),
    backupBucketName: config.backupBucketName === undefined ? undefined : checkBucketName(config.backupBucketName),
    backupPrefix,
    architecture: parseChoice('architecture', config.architecture, ARCHITECTURES, DEFAULT_FUNCTION.architecture),
    memoryMb,
    // Lambda's ceiling, which also keeps 6× inside SQS's 12-hour visibility limit.
    timeoutSeconds: checkInt('timeoutSeconds', config.timeoutSeconds ?? DEFAULT_FUNCTION.timeoutSeconds, 1, 900),
    ephemeralStorageMb: checkInt('ephemeralStorageMb', config.ephemeralStorageMb ?? DEFAULT_FUNCTION.ephemeralStorageMb, 512, 10240),
    // The SQS event source's own bounds.
    maxConcurrency: checkInt('maxConcurrency', config.maxConcurrency ?? DEFAULT_FUNCTION.maxConcurrency, 2, 1000),
    maxIndexBytes: checkIndexFits(memoryMb, config.maxIndexBytes),
    deleteStaged: config.deleteStaged ?? DEFAULT_FUNCTION.deleteStaged,
    format: parseChoice('format', config.format, DB_FORMATS, DEFAULT_FUNCTION.format),
    keyScheme: parseChoice('keyScheme', config.keyScheme, KEY_SCHEMES, DEFAULT_FUNCTION.keyScheme),
    allowUnnamedIds: config.allowUnnamedIds ?? DEFAULT_FUNCTION.allowUnnamedIds,
    checkBlobs: config.checkBlobs ?? DEFAULT_FUNCTION.checkBlobs,
    silentHours: checkInt('silentHours', config.silentHours ?? SILENT_HOURS, 1, 24 * 365),
    blobPrefix: checkPrefix(config.blobPrefix ?? defaultBlobPrefix(backupPrefix), 'blobPrefix'),
    stagingExpirationDays: checkInt(
      'stagingExpirationDays',
      config.stagingExpirationDays ?? STAGING.expirationDays,
      QUEUE.dlqRetentionDays + 1,
      36500,
    ),
    alarmEmails: config.alarmEmails ?? [],
  };
}

function resolveRecipients(config: SnapmetaConfig): ResolvedConfig['recipients'] {
  if (config.recipients !== undefined && config.recipientsParameter !== undefined) {
    throw new Error('give either recipients or recipientsParameter, not both');
  }
  if (config.recipients !== undefined) return { values: parseRecipients(config.recipients, { from: 'recipients', howToGive: 'give age1… public keys (-c recipients=age1…,age1…)' }) };
  const parameter = config.recipientsParameter ?? DEFAULT_RECIPIENTS_PARAMETER;
  if (!/^\/?[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(parameter)) {
    throw new Error(`recipientsParameter ${JSON.stringify(parameter)} is not an SSM parameter name`);
  }
  const refreshSeconds = checkInt('recipientsRefreshSeconds', config.recipientsRefreshSeconds ?? DEFAULT_FUNCTION.recipientsRefreshSeconds, 0, 86_400);
  return { parameter, refreshSeconds };
}

/**
 * The largest index the function takes must fit its memory by the bench's
 * model (lib/service/memory.ts). Unset, it is the default or the largest that
 * fits, whichever is smaller.
 */
function checkIndexFits(memoryMb: number, maxIndexBytes: number | undefined): number {
  const fits = largestIndexFor(memoryMb);
  const model = `an export needs about ${MEMORY_MODEL.perIndexByte} × the index + ${MEMORY_MODEL.fixedBytes / 2 ** 20} MiB`;
  if (fits === 0) throw new Error(`memoryMb ${memoryMb} holds no index at all: ${model}`);
  if (maxIndexBytes === undefined) return Math.min(DEFAULT_FUNCTION.maxIndexBytes, fits);
  const bytes = checkInt('maxIndexBytes', maxIndexBytes, 1, HARD_MAX_INDEX_BYTES);
  if (bytes > fits) {
    throw new Error(`maxIndexBytes ${bytes} does not fit a function of ${memoryMb} MB: ${model}, so the largest index it holds is ${fits} bytes; lower maxIndexBytes to that, or raise memoryMb to ${memoryMbFor(bytes)}`);
  }
  return bytes;
}

function checkBucketName(name: string): string {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) throw new Error(`backupBucket ${JSON.stringify(name)} is not an S3 bucket name`);
  return name;
}

function checkPrefix(prefix: string, name = 'backupPrefix'): string {
  if (prefix !== '' && !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/.test(prefix)) {
    throw new Error(`${name} ${shown(prefix)} must be empty or path segments ending in '/', e.g. "site-a/"`);
  }
  return prefix;
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return value;
}

/** The same choices from `-c key=value` (strings) or cdk.json context (any JSON). */
export function configFromContext(node: Node): SnapmetaConfig {
  const get = (key: string): unknown => node.tryGetContext(key);
  const list = (key: string) => {
    const v = get(key);
    return v === undefined ? undefined : Array.isArray(v) ? v.map(String) : String(v).split(',').map((s) => s.trim()).filter(Boolean);
  };
  const str = (key: string) => (get(key) === undefined ? undefined : String(get(key)));
  const bool = (key: string) => (get(key) === undefined ? undefined : parseBoolean(key, get(key) as string | boolean, false));
  const num = (key: string) => {
    const v = get(key);
    return v === undefined ? undefined : Number(v);
  };
  return {
    // Kept whole: parseRecipients splits on commas itself and rejects an empty list.
    recipients: get('recipients') === undefined ? undefined : [String(get('recipients'))],
    recipientsParameter: str('recipientsParameter'),
    recipientsRefreshSeconds: num('recipientsRefreshSeconds'),
    backupBucketName: str('backupBucket'),
    backupPrefix: str('backupPrefix'),
    architecture: str('architecture') as Architecture | undefined,
    memoryMb: num('memoryMb'),
    timeoutSeconds: num('timeoutSeconds'),
    ephemeralStorageMb: num('ephemeralStorageMb'),
    maxConcurrency: num('maxConcurrency'),
    maxIndexBytes: num('maxIndexBytes'),
    deleteStaged: bool('deleteStaged'),
    format: str('format') as DbFormat | undefined,
    keyScheme: str('keyScheme') as KeyScheme | undefined,
    allowUnnamedIds: bool('allowUnnamedIds'),
    checkBlobs: bool('checkBlobs'),
    blobPrefix: str('blobPrefix'),
    silentHours: num('silentHours'),
    stagingExpirationDays: num('stagingExpirationDays'),
    alarmEmails: list('alarmEmails'),
  };
}
