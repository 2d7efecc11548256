import type { Logger } from "../logger.js";

/**
 * Deletes stored messages in the background, a bounded number at a time, so that firing never
 * waits for a delete. A delete still queued when the process dies leaves its message behind: a
 * fired schedule then fires again after a restart (at least once; JetStream targets de-duplicate).
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
