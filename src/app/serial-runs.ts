/**
 * Runs a task per key one at a time. A call made while the key's task runs is
 * queued after it, and further calls share that queued run: a burst of requests
 * to re-read one service costs at most one read in flight and one waiting, and
 * a read that started later is never overtaken by one that started earlier.
 */
export class SerialRuns {
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, Promise<void>>();

  run(key: string, task: () => Promise<void>): Promise<void> {
    const waiting = this.queued.get(key);
    if (waiting !== undefined) return waiting;
    const current = this.running.get(key);
    if (current === undefined) return this.start(key, task);
    const after = () => {
      this.queued.delete(key);
      return this.start(key, task);
    };
    // The queued run goes ahead whether the one before it succeeded or not.
    const next = current.then(after, after);
    this.queued.set(key, next);
    return next;
  }

  private start(key: string, task: () => Promise<void>): Promise<void> {
    const run = task().finally(() => {
      if (this.running.get(key) === run) this.running.delete(key);
    });
    this.running.set(key, run);
    return run;
  }
}
