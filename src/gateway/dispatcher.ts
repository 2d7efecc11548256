import { errorMessage, StorageError } from "../errors.js";
import type { Attempt } from "../jobs/attempt.js";
import type { Task } from "../jobs/task.js";
import type { TaskEngine } from "../jobs/task-engine.js";
import type { Logger } from "../logger.js";
import { emqRetryMs } from "./emq-tasks.js";
import { QueueFeed } from "./feed.js";
import { HttpError } from "./http-errors.js";
import { Leases } from "./leases.js";
import { QueueArrivals } from "./queue-arrivals.js";
import { Waiter } from "./waiter.js";

/** Parameters of {@link Dispatcher}. */
export interface DispatcherParams {
  /** The service's engine: queues' run rules, controls, rate limiter, cancellations. */
  engine: TaskEngine;
  log: Logger;
  /**
   * Back-off (ms) of a task failed by `/nak` or by its per-dispatch timeout before it is handed out
   * again. JetStream hands redeliveries out before items never delivered, so with 0 a failed task
   * would jump the line; a short back-off lets what is already waiting go first (emq: "back of the
   * queue").
   */
  nakDelayMs: number;
  /** How long a `/wait` with timeout 0 gives the server to hand over tasks already queued. */
  pollGraceMs: number;
}

/**
 * The consuming side of the HTTP gateway: `/wait` (through per-queue feeds on the queues' shared
 * consumers), `/ack` and `/nak` (through the leases of dispatched tasks).
 */
export class Dispatcher {
  private readonly feeds = new Map<string, QueueFeed>();
  private readonly waiters = new Set<Waiter>();
  private readonly leases: Leases;
  private stopping = false;
  private unlisten?: Promise<() => void>;
  private readonly arrivals: QueueArrivals;

  constructor(private readonly p: DispatcherParams) {
    this.leases = new Leases({ log: p.log, timeoutDelayMs: p.nakDelayMs });
    this.arrivals = new QueueArrivals({
      storage: p.engine.storage,
      log: p.log,
      onArrival: (q) => this.poke(q),
      // Feeds waiting for an arrival look again themselves (every second) from now on.
      onLost: () => {
        for (const q of this.feeds.keys()) this.poke(q);
      },
    });
  }

  /** Tasks taken from queues and not yet settled (held for a gathering `/wait`, or dispatched). */
  get leased(): number {
    return this.leases.size;
  }

  /**
   * Waits up to `timeoutMs` for one task of each entry of `queues` (emq's `/wait`); answers as soon
   * as every entry has one, else at the timeout with `null` where an entry has none. Every task
   * returned is dispatched: it must be acked or nak'ed before its per-dispatch timeout.
   * @throws HttpError 503 (`shutting_down`)
   */
  async wait(queues: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<(Task | null)[]> {
    if (this.stopping) throw new HttpError(503, "shutting_down", "the gateway is shutting down");
    const waiter = new Waiter({
      queues,
      timeoutMs: timeoutMs > 0 ? timeoutMs : this.p.pollGraceMs,
      // The grace of a poll starts once the queues' feeds are bound: binding a queue's consumers
      // the first time takes longer than the grace itself.
      afterSettled: timeoutMs <= 0,
      feed: (q) => this.feed(q),
      leases: this.leases,
      log: this.p.log,
      ...(signal ? { signal } : {}),
    });
    this.waiters.add(waiter);
    try {
      const taken = await waiter.start().result;
      return taken.map((t) => {
        if (!t) return null;
        this.leases.dispatch(t.attempt, emqRetryMs(t.attempt.task) ?? t.queue.maxRunTimeMs);
        return t.attempt.task;
      });
    } finally {
      this.waiters.delete(waiter);
    }
  }

  /**
   * Completes dispatched tasks (result `null`) and removes their work items. Nothing is settled
   * unless every id is dispatched by this gateway.
   * @throws NotFoundError (`task_not_found`), StorageError
   */
  async ack(ids: readonly string[]): Promise<number> {
    const attempts = this.leases.take(ids);
    await this.settle(attempts, (a) => a.complete(null));
    return attempts.length;
  }

  /**
   * Fails the current try of dispatched tasks: each is tried again after {@link DispatcherParams.nakDelayMs}
   * until it expires (deadline or max tries).
   * @throws NotFoundError (`task_not_found`), StorageError
   */
  async nak(ids: readonly string[]): Promise<number> {
    const attempts = this.leases.take(ids);
    await this.settle(attempts, (a) => a.fail(new Error("nak"), this.p.nakDelayMs));
    for (const a of attempts)
      if (a.retryInMs !== undefined) this.feeds.get(a.task.queue)?.expect(a.task.priority, a.retryInMs);
    return attempts.length;
  }

  /** Tells a waiting feed that its queue was just created. */
  poke(queue: string): void {
    this.feeds.get(queue)?.poke();
  }

  /**
   * Answers every pending `/wait` with what it holds, stops pulling and gives back undispatched
   * deliveries. Dispatched tasks are left unacknowledged: JetStream redelivers them after the
   * queue's ack wait (min(maxRunTimeMs, redeliverAfterMs), default 5 s).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const pending = [...this.waiters].map((w) => {
      w.end();
      return w.result;
    });
    await Promise.all(pending);
    await Promise.all([...this.feeds.values()].map((f) => f.stop()));
    this.feeds.clear();
    this.arrivals.stop();
    this.leases.stop();
    (await this.unlisten?.catch(() => undefined))?.();
  }

  /**
   * Follows cancellation requests from the first `/wait`: a dispatched task is settled as
   * `cancelled` at once (its client's later `/ack` answers 404); a cancelled task is not handed out.
   */
  private followCancels(): void {
    this.unlisten ??= this.p.engine.cancellations().then((cancels) =>
      cancels.listen((id) => {
        const attempt = this.leases.takeOne(id);
        if (attempt) void this.settle([attempt], (a) => a.cancel()).catch(() => undefined);
      }),
    );
    this.unlisten.catch(() => {
      this.unlisten = undefined;
    });
  }

  private feed(queue: string): QueueFeed {
    let f = this.feeds.get(queue);
    if (!f) {
      this.followCancels();
      f = new QueueFeed({
        name: queue,
        engine: this.p.engine,
        log: this.p.log,
        arrivals: this.arrivals,
        // Feeds of existing queues stay (they cache the consumer); others go when idle.
        onIdle: (idle) => {
          if (!idle.bound && this.feeds.get(queue) === idle) this.feeds.delete(queue);
        },
      });
      this.feeds.set(queue, f);
    }
    return f;
  }

  private async settle(attempts: Attempt[], how: (a: Attempt) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(attempts.map(how));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [{ r, a: attempts[i]! }] : []));
    if (failed.length === 0) return;
    for (const { r, a } of failed)
      this.p.log.error("could not record a task outcome; it will be redelivered", {
        task: a.task.id,
        error: errorMessage((r as PromiseRejectedResult).reason),
      });
    throw new StorageError(
      "storage_failed",
      `${failed.length} of ${attempts.length} tasks could not be recorded; they will be redelivered`,
    );
  }
}
