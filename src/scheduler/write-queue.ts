/**
 * Runs the scheduler's writes to its own stream — the records of fires, the deletes of processed
 * cancel markers and corrupt schedules — in the background, a bounded number at a time: firing
 * never waits for them, and a burst of them never crowds fires out of the connection and the
 * server. Its backlog is what `Scheduler` bounds (`maxUnrecorded`) to bound what a crash re-fires.
 */
export class WriteQueue {
  private readonly queue: (() => Promise<void>)[] = [];
  private active = 0;
  private idle: (() => void)[] = [];

  /**
   * @param onDone called after each write finished (e.g. to resume firing held back by the backlog).
   * @param concurrency writes in flight at once. @defaultValue 64
   */
  constructor(
    private readonly onDone: () => void,
    private readonly concurrency = 64,
  ) {}

  /** Writes queued or in flight. */
  get backlog(): number {
    return this.queue.length + this.active;
  }

  /** Queues `write`, which handles (and logs) its own failures: a rejection is ignored. */
  add(write: () => Promise<void>): void {
    this.queue.push(write);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const write = this.queue.shift()!;
      this.active++;
      write()
        .catch(() => undefined)
        .finally(() => {
          this.active--;
          this.pump();
          if (this.backlog === 0) for (const resolve of this.idle.splice(0)) resolve();
          this.onDone();
        });
    }
  }

  /** Resolves once every queued write has finished. */
  async drain(): Promise<void> {
    if (this.backlog === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
