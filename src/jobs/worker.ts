import type { JsMsg } from "@nats-io/jetstream";
import { errorMessage } from "../errors.js";
import type { Logger } from "../logger.js";
import { ignoreClosed } from "../nats/ignore-closed.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { isThenable } from "../thenable.js";
import { timeout } from "../timers.js";
import { type Attempt, type AttemptRules, beginAttempt } from "./attempt.js";
import type { Cancellations } from "./cancellations.js";
import { RateLimitError, RunTimeExceededError, TaskCancelledError } from "./handler-errors.js";
import { keepAliveEveryMs } from "./queue.js";
import type { QueueControlCommands } from "./queue-controls.js";
import { type Delivery, QueueIntake } from "./queue-intake.js";
import type { HandlerContext, Router } from "./router.js";
import type { RateLimiter } from "./storage/rate-limiter.js";
import { inHandlerSpan } from "./tracing.js";
import { WorkerHeartbeat } from "./worker-heartbeat.js";

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

interface Served {
  intake: QueueIntake;
  rules: AttemptRules;
  weight: number;
}

/**
 * How a running try is stopped: cancelled, out of run time or shut down. Its `AbortSignal` is made
 * only when the handler reads it (most never do: an AbortController per task is measurable CPU);
 * {@link race} rejects either way, so the worker stops waiting for a handler that ignores it.
 */
class TryControl {
  private controller?: AbortController;
  private reason?: unknown;
  private stop?: (reason: unknown) => void;

  /** The signal handed to the handler (aborted already when the try was). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Settles as `work` does, or rejects with the reason once the try is aborted, whichever is first. */
  race<T>(work: PromiseLike<T>): Promise<T> {
    if (this.reason !== undefined) {
      work.then(undefined, () => undefined); // its outcome no longer counts; never an unhandled rejection
      return Promise.reject(this.reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.stop = reject;
      work.then(resolve, reject);
    });
  }

  /** Aborts the try (the first reason counts). */
  abort(reason: unknown): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller?.abort(reason);
    this.stop?.(reason);
  }
}

/**
 * What a handler gets for one try (its {@link HandlerContext}). A class rather than an object
 * literal with getters: such a literal costs about a microsecond and a few objects per task, and
 * most handlers use none of it. `log` (a child logger) and `signal` are made on first use;
 * `progress` and `appendLog` can be taken off it (`({ progress }) => …`) like any property.
 */
class TryContext implements HandlerContext {
  private taskLog?: Logger;

  constructor(
    private readonly attempt: Attempt,
    private readonly ctl: TryControl,
    private readonly baseLog: Logger,
    readonly runDeadline: number,
  ) {}

  get log(): Logger {
    this.taskLog ??= this.baseLog.child({ task: this.attempt.task.id, type: this.attempt.task.type });
    return this.taskLog;
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  get progress(): (value: unknown) => Promise<void> {
    return (value) => this.attempt.progress(value);
  }

  get appendLog(): (line: string) => Promise<void> {
    return (line) => this.attempt.appendLog(line);
  }
}

/**
 * The worker front end of the queues' intakes: runs tasks of one or more queues through a router,
 * `concurrency` handlers at a time in this process. A free slot goes to a queue with work in
 * proportion to the queues' weights (or strictly by weight), and within the queue to the most
 * urgent priority level ({@link QueueIntake}); the try itself is an `Attempt`, as for HTTP.
 */
export class Worker {
  private readonly served: Served[];
  private stopping = false;
  private readonly running = new Map<string, TryControl>();
  /** Tries whose handler returned and whose outcome is being recorded (abandoned at the shutdown timeout). */
  private readonly settling = new Set<Attempt>();
  /** Deliveries being handled (from take to recorded outcome), and who waits for there to be none. */
  private busy = 0;
  private idle?: () => void;
  private free: number;
  private unlisten?: () => void;
  private heartbeat?: WorkerHeartbeat;
  private readonly warn: RateLimitedLog;
  private markStopped!: () => void;
  /** Resolves once {@link stop} has finished. */
  readonly stopped = new Promise<void>((resolve) => {
    this.markStopped = resolve;
  });

  constructor(private readonly p: WorkerParams) {
    this.warn = new RateLimitedLog(p.log);
    this.free = p.concurrency;
    const batch = Math.max(1, p.concurrency);
    this.served = p.queues.map((q) => ({
      rules: q.rules,
      weight: q.weight,
      intake: new QueueIntake({
        rules: q.rules,
        batch,
        controls: p.controls.store,
        limiter: p.limiter,
        onReady: () => this.pump(),
        demand: () => batch,
        standing: true,
      }),
    }));
  }

  /** Follows cancellations and the queues' controls, then starts pulling and handling work. */
  async start(): Promise<void> {
    if (this.p.cancels) {
      this.unlisten = await this.p.cancels.listen((id) => this.running.get(id)?.abort(new TaskCancelledError(id)));
    }
    await Promise.all(this.served.map((s) => s.intake.start()));
    this.heartbeat = new WorkerHeartbeat(this.p, () => this.running.size);
  }

  /**
   * Stops taking work, waits up to `shutdownTimeoutMs` for running handlers, then aborts the rest
   * (their tries fail and they are retried by another worker).
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.unlisten?.();
    this.heartbeat?.stop();
    const timer = timeout(() => {
      for (const c of this.running.values()) c.abort(new Error("worker shut down"));
      for (const a of this.settling) a.abandon();
    }, this.p.shutdownTimeoutMs);
    await Promise.all(this.served.map((s) => s.intake.stop()));
    if (this.busy > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    timer.clear();
    this.markStopped();
  }

  /** Starts handlers while slots are free and some queue has work it may hand out. */
  private pump(): void {
    while (this.free > 0 && !this.stopping) {
      const s = this.pick();
      const d = s?.intake.take();
      if (!s || !d) return;
      this.free--;
      void this.process(d, s.rules, s.intake);
    }
  }

  /** The queue the next free slot goes to, among those with work to hand out. */
  private pick(): Served | undefined {
    if (this.served.length === 1) return this.served[0]!.intake.canTake() ? this.served[0] : undefined;
    const ready = this.served.filter((s) => s.intake.canTake());
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
   * Handles one delivery. The slot is given back as soon as the handler returns; recording the
   * outcome (bounded by the consumers' max ack pending) overlaps the next handler.
   */
  private async process(d: Delivery, rules: AttemptRules, intake: QueueIntake): Promise<void> {
    this.busy++;
    let held = true;
    const free = () => {
      if (!held) return;
      held = false;
      this.free++;
      this.pump();
    };
    try {
      await this.handle(d, rules, free, intake);
    } catch (err) {
      // Not expected (handle settles every failure itself); the item is redelivered after its ack wait.
      rules.log.error("handling a delivery failed", { queue: rules.queue.name, error: errorMessage(err) });
    } finally {
      free();
      if (--this.busy === 0) this.idle?.();
    }
  }

  private async handle(d: Delivery, rules: AttemptRules, free: () => void, intake: QueueIntake): Promise<void> {
    const { queue, log, storage } = rules;
    const attempt = await this.begin(d, rules);
    if (!attempt) return;
    const { task } = attempt;
    const ctl = new TryControl();
    this.running.set(task.id, ctl);
    const runDeadline = (task.lastTriedAt ?? Date.now()) + queue.maxRunTimeMs;
    attempt.limitRunTime(queue.maxRunTimeMs, () => ctl.abort(new RunTimeExceededError(queue.maxRunTimeMs)));
    let result: unknown;
    let failure: unknown;
    let failed = false;
    const t0 = performance.now();
    try {
      const handler = this.p.router.handlerFor(task.type);
      const ctx = new TryContext(attempt, ctl, log, runDeadline);
      // A cancellation that arrived while the try was starting.
      if (rules.cancels?.has(task.id)) throw new TaskCancelledError(task.id);
      // Untraced (no tracer provider registered), the handler is called as it is: the closures a
      // span needs are measurable on the hot path.
      const out = attempt.traced
        ? attempt.inSpan(() => inHandlerSpan(task, () => handler(task, ctx)))
        : handler(task, ctx);
      result = isThenable(out) ? await ctl.race(out) : out;
    } catch (err) {
      failed = true;
      failure = err;
    } finally {
      attempt.clearRunLimit();
      this.running.delete(task.id);
      free();
    }
    storage.observer?.handlerDone(task, (performance.now() - t0) / 1000, !failed);
    // The attempt retries outcome writes that storage refuses until they succeed, or until the
    // shutdown timeout abandons it: only then is the item left to be redelivered (and run again).
    this.settling.add(attempt);
    try {
      if (!failed) await attempt.complete(result);
      else if (failure instanceof TaskCancelledError) await attempt.cancel();
      else if (failure instanceof RateLimitError) await this.postpone(attempt, failure, rules);
      else await attempt.fail(failure);
    } catch (err) {
      log.error("gave up recording a task outcome at shutdown; it will be redelivered and run again", {
        task: task.id,
        error: errorMessage(err),
      });
    } finally {
      this.settling.delete(attempt);
    }
    if (attempt.retryInMs !== undefined) intake.expect(task.priority, attempt.retryInMs);
  }

  /**
   * Starts a try of a delivery. When storage cannot be read (e.g. the task store has no leader for
   * a moment) it tries again with back-off, keeping the item alive, instead of handing it back:
   * each redelivery would raise the delivery count that tries are floored on. While stopping, the
   * item is left to be redelivered after its ack wait.
   */
  private async begin(d: Delivery, rules: AttemptRules): Promise<Attempt | undefined> {
    let beat: NodeJS.Timeout | undefined;
    const m: JsMsg = d.msg;
    try {
      for (let delay = 100, prefetched: Partial<Delivery> = d; ; delay = Math.min(delay * 2, 2000), prefetched = {}) {
        try {
          return await beginAttempt(m, rules, prefetched);
        } catch (err) {
          if (this.stopping) return undefined;
          this.warn.warn("begin", "could not start a task; trying again", {
            queue: rules.queue.name,
            subject: m.subject,
            error: errorMessage(err),
          });
          beat ??= setInterval(() => ignoreClosed(() => m.working()), keepAliveEveryMs(rules.queue));
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    } finally {
      clearInterval(beat);
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
