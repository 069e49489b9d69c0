// Stable error codes: agents, receipts, metrics and alarms key on these strings,
// so never rename one. Every code here is a permanent failure of the input
// (retrying the same bytes cannot succeed); transient failures are plain Errors.
export const ERROR_CODES = [
  'NOT_SQLITE',
  'CORRUPT',
  'UNKNOWN_LAYOUT',
  'SNAPSHOT_NOT_FOUND',
  'SNAPSHOT_INCOMPLETE',
  'NO_RECIPIENTS',
  'INDEX_TOO_LARGE',
  'EXPORT_TIMEOUT',
  'HOST_MISMATCH',
  'SNAPSHOT_MISMATCH',
  'BAD_KEY',
  'UNNAMED_SNAPSHOT_ID',
  'ALREADY_PUBLISHED',
  'BAD_ARGUMENT',
  'UNSAFE_SCHEMA',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class SnapmetaError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    // One line: receipts and logs show it verbatim.
    super(message.replace(/\s*\n\s*/g, ' '), options);
    this.name = 'SnapmetaError';
    this.code = code;
  }
}

export function isSnapmetaError(err: unknown): err is SnapmetaError {
  return err instanceof SnapmetaError;
}
