import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../logger.js";
import { clampDelay, timeout } from "../timers.js";
import { type Attempt, type AttemptRules, beginAttempt } from "./attempt.js";
import type { Cancellations } from "./cancellations.js";
import { RateLimitError, RunTimeExceededError, TaskCancelledError } from "./handler-errors.js";
import { ackWaitMs } from "./queue.js";
import type { QueueControlCommands } from "./queue-controls.js";
import { QueueSource } from "./queue-source.js";
import type { RateLimiter } from "./rate-limiter.js";
import type { HandlerContext, Router } from "./router.js";

/** One queue a {@link Worker} serves, with its share of the worker's slots. */
export interface WorkerQueue {
  /** How the queue's tasks are run (`rules.queue` is the queue). */
  rules: AttemptRules;
  /** Relative share of slots when several queues have work (asynq-style weights). */
  weight: number;
}

/** Everything a {@link Worker} needs; built by `Client.run`. */
export interface WorkerParams {
  router: Router;
  queues: WorkerQueue[];
  /** Serve queues strictly by weight (heaviest first) instead of in proportion to their weights. */
  strict: boolean;
  /** Handlers run at once in this process (each queue's maxConcurrent caps all processes together). */
  concurrency: number;
  /** How long `stop()` lets running handlers finish before aborting them. */
  shutdownTimeoutMs: number;
  /** Where queue controls are watched and changed (holds). */
  controls: QueueControlCommands;
  /** The shared rate limiter (opened on first need). */
  limiter: () => Promise<RateLimiter>;
  /** Cancellation requests to follow (running tasks are aborted when theirs arrives). */
  cancels?: Cancellations;
  log: Logger;
}

/** A try still running after this long gets its `active` record written. */
const ACTIVE_RECORD_DELAY_MS = 100;

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

interface Served {
  source: QueueSource;
  rules: AttemptRules;
  weight: number;
}

/**
 * Runs tasks of one or more queues through a router, `concurrency` handlers at a time in this
 * process. Each queue is pulled per priority level ({@link QueueSource}); a free slot goes to a
 * queue with work in proportion to the queues' weights (or strictly by weight), and within the
 * queue to the most urgent priority level (with the starvation guard of `PriorityPicker`).
 */
export class Worker {
  private readonly served: Served[];
  private stopping = false;
  private readonly running = new Map<string, AbortController>();
  private readonly inProgress = new Set<Promise<void>>();
  private free: number;
  private unlisten?: () => void;
  private markStopped!: () => void;
  /** Resolves once {@link stop} has finished. */
  readonly stopped = new Promise<void>((resolve) => {
    this.markStopped = resolve;
  });

  constructor(private readonly p: WorkerParams) {
    this.free = p.concurrency;
    const batch = Math.max(1, p.concurrency);
    this.served = p.queues.map((q) => ({
      rules: q.rules,
      weight: q.weight,
      source: new QueueSource({
        rules: q.rules,
        batch,
        controls: p.controls.store,
        limiter: p.limiter,
        onReady: () => this.pump(),
      }),
    }));
  }

  /** Follows cancellations and the queues' controls, then starts pulling and handling work. */
  async start(): Promise<void> {
    if (this.p.cancels) {
      this.unlisten = await this.p.cancels.listen((id) => this.running.get(id)?.abort(new TaskCancelledError(id)));
    }
    await Promise.all(this.served.map((s) => s.source.start()));
  }

  /**
   * Stops taking work, waits up to `shutdownTimeoutMs` for running handlers, then aborts the rest
   * (their tries fail and they are retried by another worker).
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.unlisten?.();
    const timer = timeout(() => {
      for (const c of this.running.values()) c.abort(new Error("worker shut down"));
    }, this.p.shutdownTimeoutMs);
    await Promise.all(this.served.map((s) => s.source.stop()));
    await Promise.allSettled([...this.inProgress]);
    timer.clear();
    this.markStopped();
  }

  /** Starts handlers while slots are free and some queue has work it may hand out. */
  private pump(): void {
    while (this.free > 0 && !this.stopping) {
      const s = this.pick();
      const m = s?.source.take();
      if (!s || !m) return;
      this.free--;
      const job = this.process(m, s.rules).finally(() => this.inProgress.delete(job));
      this.inProgress.add(job);
    }
  }

  /** The queue the next free slot goes to, among those with work to hand out. */
  private pick(): Served | undefined {
    if (this.served.length === 1) return this.served[0]!.source.canTake() ? this.served[0] : undefined;
    const ready = this.served.filter((s) => s.source.canTake());
    if (ready.length <= 1) return ready[0];
    if (this.p.strict) return ready.reduce((a, b) => (b.weight > a.weight ? b : a));
    let r = Math.random() * ready.reduce((n, s) => n + s.weight, 0);
    for (const s of ready) {
      r -= s.weight;
      if (r < 0) return s;
    }
    return ready[ready.length - 1];
  }

  /**
   * Handles one work item. The slot is given back as soon as the handler returns; recording the
   * outcome (bounded by the consumers' max ack pending) overlaps the next handler.
   */
  private async process(m: JsMsg, rules: AttemptRules): Promise<void> {
    let held = true;
    const free = () => {
      if (!held) return;
      held = false;
      this.free++;
      this.pump();
    };
    try {
      await this.handle(m, rules, free);
    } finally {
      free();
    }
  }

  private async handle(m: JsMsg, rules: AttemptRules, free: () => void): Promise<void> {
    const { queue, log } = rules;
    let attempt: Attempt | undefined;
    try {
      attempt = await beginAttempt(m, rules, { deferActiveRecord: true });
    } catch (err) {
      log.error("could not start a task; it will be redelivered", { subject: m.subject, error: errorMessage(err) });
      m.nak(1000);
      return;
    }
    if (!attempt) return;
    const { task } = attempt;
    const ctl = new AbortController();
    this.running.set(task.id, ctl);
    const runDeadline = (task.lastTriedAt ?? Date.now()) + queue.maxRunTimeMs;
    const beat = setInterval(() => attempt.keepAlive(), clampDelay(Math.max(50, ackWaitMs(queue) / 2)));
    // Most handlers finish in milliseconds; only a try that lasts gets an `active` record.
    const active = setTimeout(() => attempt.recordActive(), ACTIVE_RECORD_DELAY_MS);
    const overtime = timeout(() => ctl.abort(new RunTimeExceededError(queue.maxRunTimeMs)), queue.maxRunTimeMs);
    const aborted = new Promise<never>((_, reject) =>
      ctl.signal.addEventListener("abort", () => reject(ctl.signal.reason), { once: true }),
    );
    let result: unknown;
    let failure: unknown;
    let failed = false;
    const t0 = performance.now();
    try {
      const handler = this.p.router.handlerFor(task.type);
      const ctx: HandlerContext = {
        log: log.child({ task: task.id, type: task.type }),
        signal: ctl.signal,
        runDeadline,
        progress: (value) => attempt.progress(value),
        appendLog: (line) => attempt.appendLog(line),
      };
      // A cancellation that arrived while the try was starting.
      if (rules.cancels?.has(task.id)) throw new TaskCancelledError(task.id);
      result = await Promise.race([Promise.resolve().then(() => handler(task, ctx)), aborted]);
    } catch (err) {
      failed = true;
      failure = err;
    } finally {
      clearInterval(beat);
      clearTimeout(active);
      overtime.clear();
      this.running.delete(task.id);
      free();
    }
    rules.observer?.handlerDone(task, (performance.now() - t0) / 1000, !failed);
    try {
      if (!failed) await attempt.complete(result);
      else if (failure instanceof TaskCancelledError) await attempt.cancel();
      else if (failure instanceof RateLimitError) await this.postpone(attempt, failure, rules);
      else await attempt.fail(failure);
    } catch (err) {
      // Storage failed while recording the outcome: leave the item unacknowledged so it is redelivered.
      log.error("could not record a task outcome; it will be redelivered", { task: task.id, error: errorMessage(err) });
      m.nak(1000);
    }
  }

  /** A handler asked to be rate limited: try again later without using up a try (and maybe hold the queue). */
  private async postpone(attempt: Attempt, err: RateLimitError, rules: AttemptRules): Promise<void> {
    const { storage, queue } = rules;
    await attempt.postpone(err.delayMs, err.message);
    storage.publishQueueEvent(queue.name, "rate_limited", {
      taskId: attempt.task.id,
      detail: { delay_ms: err.delayMs },
    });
    if (err.holdQueue) await this.p.controls.hold(queue.name, Date.now() + err.delayMs);
  }
}
