// Recipients kept in an SSM parameter, as a warm function sees them: re-read
// once the last read is older than the refresh interval, so a changed list
// reaches every warm function within that interval. A failed re-read keeps
// the last good list. The value itself is never logged nor put in an error:
// a parameter meant for public keys may hold a secret by mistake.
import { isSnapmetaError, SnapmetaError } from '../core/errors.ts';
import { parseRecipients } from '../core/recipients.ts';
import { holdsIdentity } from '../core/secrets.ts';

export type ParameterReader = (name: string, signal?: AbortSignal) => Promise<string>;

/** What a refresh reports; Powertools' Logger fits. */
export interface RefreshLog {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
}

const READ_TIMEOUT_MS = 5000;

export class ParameterRecipients {
  private list: string[] = [];
  private readAt = 0;
  private refreshing: Promise<string[]> | undefined;

  constructor(
    readonly parameter: string,
    private readonly read: ParameterReader,
    private readonly refreshMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The first read, at cold start: a failure stops the function's start-up. */
  async load(): Promise<string[]> {
    this.list = await this.fetch();
    this.readAt = this.now();
    return this.list;
  }

  /** The list to encrypt to now: re-read first when the last read is too old. */
  current(log?: RefreshLog): Promise<string[]> {
    if (this.now() - this.readAt < this.refreshMs) return Promise.resolve(this.list);
    this.refreshing ??= this.refresh(log).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refresh(log?: RefreshLog): Promise<string[]> {
    const before = this.list;
    try {
      this.list = await this.fetch();
      if (this.list.join() !== before.join()) {
        log?.info('recipients re-read from their parameter: the list changed', { parameter: this.parameter, recipients: this.list.length });
      }
    } catch (err) {
      log?.warn('the recipients parameter could not be re-read; the last good list is kept', {
        parameter: this.parameter,
        error: isSnapmetaError(err) ? err.code : (err as Error)?.name ?? 'Error',
        recipients: this.list.length,
        lastReadAt: new Date(this.readAt).toISOString(),
      });
    }
    // Failed or not, the next try waits a whole interval: SSM is not asked on every export.
    this.readAt = this.now();
    return this.list;
  }

  private async fetch(): Promise<string[]> {
    const value = await this.read(this.parameter, AbortSignal.timeout(READ_TIMEOUT_MS));
    try {
      return parseRecipients([value], { from: `SSM parameter ${this.parameter}`, howToGive: 'put age1… public keys in it, comma-separated' });
    } catch (err) {
      // A missing list or a private key is refused without its value; a malformed one would show its start.
      if (!isSnapmetaError(err) || err.code !== 'BAD_ARGUMENT' || holdsIdentity(value)) throw err;
      throw new SnapmetaError(err.code, `the SSM parameter ${this.parameter} holds something other than age1… public keys; it is not shown, in case it is a secret: put age1… public keys in it, comma-separated`);
    }
  }
}
