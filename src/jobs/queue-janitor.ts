import type { Service } from "../lifecycle.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { deliveryIsStale, type JetStreamStorage } from "./storage/jetstream-storage.js";
import { deleteWorkItemAt, orphanedItems } from "./storage/orphaned-items.js";
import type { Task } from "./task.js";

/** Parameters of {@link QueueJanitor}. */
export interface QueueJanitorParams {
  storage: JetStreamStorage;
  /** Puts a recovered task in its queue again (the enqueuer's `put`). */
  put: (task: Task, msgId: string) => Promise<unknown>;
  log: Logger;
  /** How often every queue is looked at (also at start and after each reconnect). @defaultValue 600_000 ms */
  intervalMs?: number;
}

/** What one sweep of a queue found. */
export interface SweepResult {
  /** Items removed because their task had finished (their acknowledgement had been lost). */
  removed: number;
  /** Items whose task had not finished, put in the queue again as new items. */
  requeued: number;
}

/**
 * Clears work items that a crash left behind. nats-server 2.9 can lose the removal of
 * acknowledged items of a work-queue stream when it is killed: after a restart such items sit in
 * the stream below their consumer's ack floor, never delivered again yet counted in the queue's
 * depth and against `maxEntries` (seen: 1,759 of 20,000 after one SIGKILL; 2.14 keeps none). A
 * queue whose stream holds more items than its consumers have pending or in flight is walked up to
 * each consumer's ack floor: an item whose task is final is deleted; one whose task is not (which
 * jetq never acknowledges, but the check costs nothing) is enqueued again first, so nothing is lost.
 * Runs in `jetq serve`: at start, after every reconnect (a server restart is when it happens) and
 * every `intervalMs`.
 */
export class QueueJanitor implements Service {
  private timer?: NodeJS.Timeout;
  private unwatch?: () => void;
  private running?: Promise<void>;
  private stopped = false;
  private readonly warn: RateLimitedLog;

  constructor(private readonly p: QueueJanitorParams) {
    this.warn = new RateLimitedLog(p.log);
  }

  /** Starts sweeping (the first sweep runs in the background). */
  start(): void {
    this.sweepAll();
    this.timer = setInterval(() => this.sweepAll(), this.p.intervalMs ?? 600_000);
    this.timer.unref();
    this.unwatch = this.p.storage.bus.onConnectionEvent((e) => {
      if (e === "reconnect") this.sweepAll();
    });
  }

  /** Sweeps every queue once, unless a sweep is already running. */
  private sweepAll(): void {
    if (this.running || this.stopped) return;
    this.running = (async () => {
      for (const q of await this.p.storage.queueNames()) {
        if (this.stopped) return;
        await this.sweep(q);
      }
    })()
      .catch((err: Error) => this.warn.warn("sweep", "could not look for items left behind", { error: err.message }))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Looks at one queue and clears what a crash left behind. */
  async sweep(queue: string): Promise<SweepResult> {
    const { storage, log } = this.p;
    const result: SweepResult = { removed: 0, requeued: 0 };
    for await (const item of orphanedItems(storage, queue)) {
      if (item.task && !deliveryIsStale(await storage.recordFor(item.task.id), item.task.run ?? 0)) {
        await this.p.put(item.task, `${item.task.id}:repair:${item.seq}`);
        result.requeued++;
      } else result.removed++;
      await deleteWorkItemAt(storage, queue, item.seq);
    }
    if (result.removed + result.requeued > 0)
      log.warn("cleared work items a server crash left behind (see docs/operations.md)", { queue, ...result });
    return result;
  }

  /** Stops sweeping; a sweep in progress finishes its current queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unwatch?.();
    await this.running;
  }
}
