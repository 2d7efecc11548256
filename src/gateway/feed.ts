import { errorMessage } from "../errors.js";
import { type AttemptRules, beginAttempt } from "../jobs/attempt.js";
import type { ResolvedQueue } from "../jobs/queue.js";
import { type Delivery, QueueIntake } from "../jobs/queue-intake.js";
import type { TaskEngine } from "../jobs/task-engine.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import type { QueueArrivals } from "./queue-arrivals.js";
import type { SlotSource, WaitSlot } from "./waiter.js";

/** How often a feed looks again for a queue that does not exist (yet) when queue arrivals are not watched. */
export const QUEUE_RECHECK_MS = 1000;

/**
 * How long a feed keeps deliveries it fetched ahead of its `/wait`s (per priority level, about as
 * many as its slots took from that level in this long, see `QueueIntakeParams.lingerMs`) after the
 * last slot left, before handing them back to the queue.
 */
export const PREFETCH_LINGER_MS = 1000;

/** Parameters of {@link QueueFeed}. */
export interface QueueFeedParams {
  /** The queue. */
  name: string;
  /** The service's engine: the queue's run rules, controls, rate limiter. */
  engine: TaskEngine;
  log: Logger;
  /** Called when the feed has nothing to do and holds nothing (its owner may drop it). */
  onIdle: (feed: QueueFeed) => void;
  /** Tells (through {@link QueueFeed.poke}) when a queue that did not exist is defined. */
  arrivals: QueueArrivals;
}

/**
 * The HTTP front end of one queue's intake: `/wait` slots, served first come first served, take
 * deliveries from a {@link QueueIntake} — the same intake and the same run rules as a library
 * worker's — that pulls only while slots wait (or more urgent work can go before what it holds),
 * for the slots waiting and as many as they took lately, and hands back what nobody took
 * {@link PREFETCH_LINGER_MS} after the last slot left. A slot's delivery is started with the
 * library's `beginAttempt` (expired, finished, cancelled or corrupt items never reach a slot). The
 * feed also waits for a queue that does not exist yet (woken by the arrivals watch).
 */
export class QueueFeed implements SlotSource {
  private readonly slots: WaitSlot[] = [];
  private intake?: QueueIntake;
  private queue?: ResolvedQueue;
  private rules?: AttemptRules;
  /** Deliveries whose try is being started. */
  private starting = 0;
  private binding?: Promise<void>;
  /** The queue does not exist; the arrivals watch will poke the feed when it is defined. */
  private awaitingArrival = false;
  /** A poke came while a bind was running (it may have looked before the queue was defined). */
  private pokedWhileBinding = false;
  private rebind?: NodeJS.Timeout;
  private failures = 0;
  private stopped = false;
  private pumpScheduled = false;
  private readonly warn: RateLimitedLog;

  constructor(private readonly p: QueueFeedParams) {
    this.warn = new RateLimitedLog(p.log);
  }

  /** True while bound to the queue (it exists). */
  get bound(): boolean {
    return this.intake !== undefined;
  }

  add(slot: WaitSlot): void {
    this.slots.push(slot);
    this.schedulePump();
  }

  requeue(slot: WaitSlot): void {
    this.slots.unshift(slot);
    this.pump();
  }

  remove(slot: WaitSlot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    this.intake?.wake();
    this.checkIdle();
  }

  /**
   * Resolves once the feed knows whether its queue exists: at once when bound or known missing,
   * else when the bind in progress (started now if none is) ends. A `/wait` with timeout 0 counts
   * its grace from then, so the time a first bind takes is not taken from it.
   */
  settled(): Promise<void> {
    if (this.intake || this.rebind || this.awaitingArrival || this.stopped) return Promise.resolve();
    return this.bind();
  }

  /** The queue may have just been created: look for it now rather than at the next recheck. */
  poke(): void {
    if (this.intake || this.slots.length === 0) return;
    if (this.binding) {
      this.pokedWhileBinding = true;
      return;
    }
    this.awaitingArrival = false;
    clearTimeout(this.rebind);
    this.rebind = undefined;
    void this.bind();
  }

  /** A task handed back with a delay will be there again at `level` in `afterMs`. */
  expect(level: number, afterMs: number): void {
    this.intake?.expect(level, afterMs);
  }

  /** Stops pulling and gives back held deliveries. Slots still registered are left to their waiters. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rebind);
    await this.binding;
    await this.intake?.stop();
  }

  /**
   * Pumps once the current I/O callbacks have run, so that slots added by requests that arrived
   * together share one pull request.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.stopped) return;
    const intake = this.intake;
    if (!intake) {
      if (this.slots.length > 0 && !this.binding && !this.rebind && !this.awaitingArrival) void this.bind();
      return;
    }
    while (this.slots.length > 0) {
      const d = intake.take();
      if (!d) break;
      this.assign(d, this.slots.shift()!);
    }
    intake.wake();
  }

  /** Looks for the queue and, once it exists, starts its intake. */
  private bind(): Promise<void> {
    this.binding ??= this.bindNow().finally(() => {
      this.binding = undefined;
    });
    return this.binding;
  }

  private async bindNow(): Promise<void> {
    const { engine, name, log, arrivals } = this.p;
    this.pokedWhileBinding = false;
    let retryInMs = 0;
    try {
      const queue = await this.lookUp();
      if (queue) {
        const rules = await engine.rulesFor(queue);
        const intake = new QueueIntake({
          rules,
          batch: Math.max(1, queue.maxConcurrent),
          controls: (await engine.controls()).store,
          limiter: () => engine.rateLimiter(),
          onReady: () => this.schedulePump(),
          demand: () => this.slots.length,
          standing: false,
          lingerMs: PREFETCH_LINGER_MS,
        });
        await intake.start();
        if (this.stopped) await intake.stop();
        else {
          this.queue = queue;
          this.rules = rules;
          this.intake = intake;
          this.failures = 0;
        }
      } else if (this.pokedWhileBinding) retryInMs = 1;
      else if (arrivals.isLive) this.awaitingArrival = true;
      else retryInMs = QUEUE_RECHECK_MS;
    } catch (err) {
      this.failures++;
      retryInMs = Math.min(QUEUE_RECHECK_MS, 50 * 2 ** Math.min(this.failures, 10));
      this.warn.warn("bind", "cannot bind to the queue; retrying", { queue: name, error: errorMessage(err) });
      log.debug("bind failed", { queue: name });
    }
    if (this.stopped) return;
    if (retryInMs > 0 && this.slots.length > 0) {
      this.rebind = setTimeout(() => {
        this.rebind = undefined;
        if (this.slots.length > 0) void this.bind();
        else this.checkIdle();
      }, retryInMs);
      this.rebind.unref();
    }
    this.schedulePump();
    this.checkIdle();
  }

  /**
   * The queue's definition, or undefined when it does not exist. A name already found missing
   * while queue arrivals are watched costs no read; one found missing now is remembered, unless
   * some queue was defined while it was being looked up.
   */
  private async lookUp(): Promise<ResolvedQueue | undefined> {
    const { engine, name, arrivals } = this.p;
    await arrivals.start();
    if (arrivals.isKnownMissing(name)) return undefined;
    const before = arrivals.arrivals;
    const queue = await engine.storage.findQueue(name);
    if (!queue && arrivals.arrivals === before) arrivals.markMissing(name);
    return queue;
  }

  private assign(d: Delivery, slot: WaitSlot): void {
    const intake = this.intake!;
    const queue = this.queue!;
    const rules = this.rules!;
    slot.starting();
    this.starting++;
    void (async () => {
      try {
        const attempt = await beginAttempt(d.msg, rules, d);
        if (attempt) slot.fill(attempt, queue);
        else slot.empty();
      } catch (err) {
        // Storage could not be read: the delivery goes back unstarted (it costs no try).
        this.warn.warn("begin", "could not start a task; handing it back", {
          queue: queue.name,
          error: errorMessage(err),
        });
        intake.handBack(d.msg);
        slot.empty();
      } finally {
        this.starting--;
        this.checkIdle();
      }
    })();
  }

  private checkIdle(): void {
    if (this.slots.length === 0 && this.starting === 0 && !this.binding && (this.intake?.holding ?? 0) === 0) {
      clearTimeout(this.rebind);
      this.rebind = undefined;
      this.p.onIdle(this);
    }
  }
}
