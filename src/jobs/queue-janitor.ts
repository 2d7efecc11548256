import type { Logger } from "../logger.js";
import { isNotFound } from "../nats/streams.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { deliveryIsStale, type JetStreamStorage } from "./storage/jetstream-storage.js";
import { levelConsumer, levelSubjects, PRIORITY_LEVELS, queueStream } from "./storage/layout.js";
import { decodeTask } from "./storage/task-codec.js";
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
export class QueueJanitor {
  private timer?: NodeJS.Timeout;
  private status?: AsyncIterable<unknown> & { stop?(): void };
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
    void this.followStatus();
  }

  private async followStatus(): Promise<void> {
    const status = this.p.storage.nc.status();
    this.status = status;
    for await (const s of status) {
      if (this.stopped) return;
      if (s.type === "reconnect") this.sweepAll();
    }
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
    const jsm = storage.jsm;
    const stream = queueStream(queue);
    const result: SweepResult = { removed: 0, requeued: 0 };
    const info = await jsm.streams.info(stream).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!info || info.state.messages === 0) return result;
    const floors: { level: number; floor: number }[] = [];
    let accounted = 0;
    for await (const c of jsm.consumers.list(stream)) {
      const level = Number(/^WORKERS_P(\d)$/.exec(c.name)?.[1] ?? Number.NaN);
      if (!(level >= 0 && level < PRIORITY_LEVELS) || c.name !== levelConsumer(level)) continue;
      accounted += c.num_pending + c.num_ack_pending;
      floors.push({ level, floor: c.ack_floor.stream_seq });
    }
    if (info.state.messages <= accounted) return result;
    for (const { level, floor } of floors) {
      for (let seq = info.state.first_seq; seq <= floor; ) {
        const m = await jsm.direct
          .getMessage(stream, { seq, next_by_subj: levelSubjects(queue, level) })
          .catch((err) => {
            if (isNotFound(err)) return null;
            throw err;
          });
        if (!m || m.seq > floor) break;
        seq = m.seq + 1;
        let task: ReturnType<typeof decodeTask> | undefined;
        try {
          task = decodeTask(m.data);
        } catch {
          task = undefined; // corrupt: it was acknowledged as such
        }
        if (task && !deliveryIsStale(await storage.recordFor(task.id), task.run ?? 0)) {
          await this.p.put(task, `${task.id}:repair:${m.seq}`);
          result.requeued++;
        } else result.removed++;
        await jsm.streams.deleteMessage(stream, m.seq, false);
      }
    }
    if (result.removed + result.requeued > 0)
      log.warn("cleared work items a server crash left behind (see docs/operations.md)", { queue, ...result });
    return result;
  }

  /** Stops sweeping; a sweep in progress finishes its current queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.status?.stop?.();
    await this.running;
  }
}
