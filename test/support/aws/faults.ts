// Deterministic S3 faults for the handler's client: SDK middleware that fails
// chosen commands a chosen number of times, and a log of every command sent.
import type { S3Client } from '@aws-sdk/client-s3';

export interface SentCommand {
  command: string;
  key?: string;
}

interface Rule {
  when: (c: SentCommand) => boolean;
  times: number;
  error?: () => Error;
  /** Set for a hold: the command waits for it instead of failing. */
  held?: Promise<void>;
  onHold?: () => void;
}

export class S3Faults {
  readonly sent: SentCommand[] = [];
  private readonly rules: Rule[] = [];

  /** Fail the next `times` commands matching `when` (Infinity: always), by default with a 503 as S3 under load does. */
  fail(when: (c: SentCommand) => boolean, times = 1, error?: () => Error): void {
    this.rules.push({ when, times, error });
  }

  /** No more faults: the cause is fixed. */
  clear(): void {
    this.rules.length = 0;
  }

  /** Hold the next matching command until release(); `reached` resolves once it is being held. */
  hold(when: (c: SentCommand) => boolean): { reached: Promise<void>; release(): void } {
    let release!: () => void;
    let reached!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    this.rules.push({ when, times: 1, held, onHold: reached });
    return { reached: reachedPromise, release };
  }

  attach(client: S3Client): S3Client {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string };
        const sent = { command: String(context.commandName), key: input.Key };
        this.sent.push(sent);
        const rule = this.rules.find((r) => r.times > 0 && r.when(sent));
        if (rule) {
          rule.times--;
          if (rule.held) {
            rule.onHold?.();
            await rule.held;
          } else {
            throw rule.error?.() ?? s3Error(503, 'ServiceUnavailable', `injected fault: ${sent.command} ${sent.key ?? ''}`);
          }
        }
        return next(args);
      },
      // Before the retry middleware: one injected fault is one failed attempt of the whole command.
      { step: 'initialize', name: 'snapmetaTestFaults' },
    );
    return client;
  }
}

/** Shaped like the SDK's service exceptions: name and HTTP status are what callers look at. */
export function s3Error(status: number, name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

export const isCommand = (command: string, keyPattern?: RegExp) => (c: SentCommand) =>
  c.command === command && (!keyPattern || keyPattern.test(c.key ?? ''));
