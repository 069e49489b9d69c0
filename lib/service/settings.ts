// Deployment settings as plain data, shared by the CDK stack and the local
// stack (fauxqs), so both build the same queue, DLQ and bucket layout. No CDK
// imports here: the local stack must not load aws-cdk-lib.
import { INDEX_SUFFIXES, STAGING_PREFIX, type KeyScheme } from '../core/keys.ts';
import type { DbFormat } from '../core/manifest.ts';

export type Architecture = 'arm64' | 'x86_64';
export const ARCHITECTURES: readonly Architecture[] = ['arm64', 'x86_64'];

export const DEFAULT_FUNCTION = {
  architecture: 'arm64' as Architecture,
  // 3008 MB is the most a new account may use until a quota increase; the
  // largest accepted index (below) stays well inside it.
  memoryMb: 3008,
  timeoutSeconds: 600,
  // /tmp for the staged upload while it is read.
  ephemeralStorageMb: 2048,
  // Uploads arrive in bursts after backups; a few exports at once drain them
  // without spiking S3 or memory costs.
  maxConcurrency: 5,
  maxIndexBytes: 1024 ** 3,
  deleteStaged: true,
  // The seed's reader: SQL text under metadata/<snapshot-id>/ (README: compatibility).
  format: 'sql' as DbFormat,
  keyScheme: 'plain' as KeyScheme,
  allowUnnamedIds: false,
  // How often a warm function re-reads recipients kept in SSM: a changed list
  // reaches every function within this many seconds.
  recipientsRefreshSeconds: 300,
  // After publishing, look for the export's blobs under <backupPrefix>blobs/ (vaultik's layout).
  checkBlobs: true,
};

/** AWS asks for an SQS event source's visibility timeout to be at least 6× the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

export const visibilityTimeoutSeconds = (functionTimeoutSeconds: number) =>
  VISIBILITY_TIMEOUT_FACTOR * functionTimeoutSeconds;

export const QUEUE = {
  visibilityTimeoutSeconds: visibilityTimeoutSeconds(DEFAULT_FUNCTION.timeoutSeconds),
  retentionDays: 4,
  // One upload per invocation, so one poison upload cannot fail its neighbours.
  batchSize: 1,
  maxReceiveCount: 5,
  // When the deadline stops a CPU-bound stage (decompress, load, prune, dump):
  // the first receive is retried, in case a cold or busy function was simply
  // slow; from this receive on the upload gets an EXPORT_TIMEOUT receipt. Not
  // maxReceiveCount: every retry waits out the visibility timeout (6 × the
  // function timeout) and runs the whole timeout again, for the same answer.
  timeoutReceiptFromReceive: 2,
  // SQS keeps a message's first enqueue time when it moves to the DLQ, so this
  // counts from the upload: the DLQ must keep messages longer than the queue.
  dlqRetentionDays: 14,
};

/** The S3 ObjectCreated events that start an export (S3 takes one suffix per rule: one rule each). */
export const NOTIFICATION_FILTER = {
  prefix: STAGING_PREFIX,
  suffixes: [...INDEX_SUFFIXES],
};

export const STAGING = {
  // Uploads and receipts outlive the DLQ retention (validated at synth), so a
  // message replayed on its last day still finds its upload.
  expirationDays: 30,
  noncurrentVersionExpirationDays: 7,
  abortIncompleteUploadDays: 2,
};

export const ACCESS_LOGS = { expirationDays: 90 };

export const LOG_RETENTION_DAYS = 30;

/** The principal tag naming the one host an agent may upload for. */
export const AGENT = { hostTagKey: 'snapmeta-host' };

/** Must match what the handler's Powertools Metrics emit (EMF). */
export const METRICS = { namespace: 'Snapmeta', service: 'snapmeta-export', fleetService: 'snapmeta-fleet-watch' };

export const ALARMS = {
  periodMinutes: 5,
  // How often the fleet watch counts silent hosts (and the period its alarm reads).
  fleetWatchMinutes: 60,
  // A healthy queue drains within a couple of function timeouts.
  oldestMessageAgeSeconds: 3600,
  exportFailures: 3,
};

/** A host whose newest export is older than this is silent (daily backups, with two hours to spare). */
export const SILENT_HOURS = 26;

/** Where an SSM parameter holds the recipients when none are given at deploy time. */
export const DEFAULT_RECIPIENTS_PARAMETER = '/snapmeta/age-recipients';

/** Fixed names for the local stack; in AWS, CloudFormation names everything. */
export const LOCAL_NAMES = {
  stagingBucket: 'snapmeta-staging',
  backupBucket: 'snapmeta-backups',
  queue: 'snapmeta-exports',
  dlq: 'snapmeta-exports-dlq',
};
