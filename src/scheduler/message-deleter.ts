import type { Logger } from "../logger.js";

/**
 * Deletes stored messages that no longer mean anything — processed cancel markers, corrupt
 * schedules — in the background, a bounded number at a time, so the follower never waits for a
 * delete. One still queued when the process dies is left behind and deleted by the next leader
 * when it loads the stream; nothing fires because of it. (A fired schedule is not deleted here:
 * the fire waits for its own delete, see `Scheduler`.)
 */
export class MessageDeleter {
  private readonly queue: number[] = [];
  private active = 0;
  private idle?: () => void;

  /**
   * @param remove deletes one message by stream sequence.
   * @param concurrency deletes in flight at once. @defaultValue 64
   */
  constructor(
    private readonly remove: (seq: number) => Promise<void>,
    private readonly log: Logger,
    private readonly concurrency = 64,
  ) {}

  /** Deletes waiting to be sent. */
  get backlog(): number {
    return this.queue.length + this.active;
  }

  /** Queues the message at `seq` for deletion. */
  add(seq: number): void {
    this.queue.push(seq);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const seq = this.queue.shift()!;
      this.active++;
      this.remove(seq)
        .catch((err: Error) => this.log.warn("could not delete a stored schedule message", { seq, error: err.message }))
        .finally(() => {
          this.active--;
          this.pump();
          if (this.backlog === 0) this.idle?.();
        });
    }
  }

  /** Resolves once every queued delete has been sent and answered. */
  async drain(): Promise<void> {
    if (this.backlog === 0) return;
    await new Promise<void>((resolve) => {
      this.idle = resolve;
    });
  }
}
