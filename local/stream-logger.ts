// A Powertools Logger that writes its JSON lines to a stream of our choosing
// (a log file for the local stack, memory for tests) instead of stdout, where
// the local stack shows its status.
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';

export class StreamLogger extends Logger {
  private readonly write: (line: string) => void;

  constructor(write: (line: string) => void, options?: ConstructorOptions) {
    super(options);
    this.write = write;
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    this.write(`${JSON.stringify(log.getAttributes(), this.getJsonReplacer())}\n`);
  }
}
