// Fire-and-forget work (event sends, receipt reads) that stop() must still wait for.
export class Pending {
  private readonly tasks = new Set<Promise<unknown>>();

  /** Runs task in the background; a failure goes to onError, never unhandled. */
  track(task: Promise<unknown>, onError?: (err: unknown) => void): void {
    const tracked = task.catch((err) => onError?.(err)).finally(() => this.tasks.delete(tracked));
    this.tasks.add(tracked);
  }

  /** Resolves once everything tracked so far, and anything it started, has settled. */
  async drain(): Promise<void> {
    while (this.tasks.size) await Promise.all(this.tasks);
  }
}
