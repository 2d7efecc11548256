import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { type AttemptRules, beginAttempt, releaseDelivery } from "../jobs/attempt.js";
import type { Cancellations } from "../jobs/cancellations.js";
import { LevelActivity } from "../jobs/level-activity.js";
import { ackWaitMs } from "../jobs/queue.js";
import { isHeld, QueueControlCommands, type QueueControls } from "../jobs/queue-controls.js";
import { RateBudget } from "../jobs/rate-budget.js";
import type { RateLimiter } from "../jobs/rate-limiter.js";
import { retryDefault } from "../jobs/retry-policy.js";
import type { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import { levelConsumer, PRIORITY_LEVELS, queueStream } from "../jobs/storage/layout.js";
import type { TaskState } from "../jobs/task.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { clampDelay } from "../timers.js";
import { ignoreClosed } from "./leases.js";
import type { SlotSource, WaitSlot } from "./waiter.js";

/**
 * Lifetime of one pull request. Pull requests cannot be withdrawn, so a delivery that arrives
 * after its `/wait` ended is held (kept alive) for the next `/wait` at most this long, then given
 * back. Waking up does not depend on it: a pull request is answered as soon as an item arrives.
 */
export const FETCH_EXPIRES_MS = 2000;
/** How often a feed looks again for a queue that does not exist (yet). */
export const QUEUE_RECHECK_MS = 1000;

/** Parameters of {@link QueueFeed}. */
export interface QueueFeedParams {
  /** The queue. */
  name: string;
  storage: JetStreamStorage;
  log: Logger;
  /** Called when the feed has nothing to do and holds nothing (its owner may drop it). */
  onIdle: (feed: QueueFeed) => void;
  /** The shared rate limiter (opened on first need). */
  limiter: () => Promise<RateLimiter>;
  /** Cancellation requests (followed by the owner). */
  cancels: () => Promise<Cancellations>;
}

const NO_DISCARD: ReadonlySet<TaskState> = new Set();
const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A delivery nobody waits for any more, kept alive until a `/wait` takes it or it is given back. */
class Spare {
  private readonly beat: NodeJS.Timeout;

  constructor(
    readonly msg: JsMsg,
    /** Its priority level. */
    readonly level: number,
    ackWait: number,
  ) {
    this.beat = setInterval(() => ignoreClosed(() => msg.working()), clampDelay(Math.max(50, ackWait / 2)));
    this.beat.unref();
  }

  /** Stops keeping it alive and returns it. */
  take(): JsMsg {
    clearInterval(this.beat);
    return this.msg;
  }
}

/**
 * Feeds `/wait` slots of one queue from the queue's shared durable consumers (the ones library
 * workers pull from, one per priority level), so HTTP consumers and library workers share one
 * line, one max-concurrency limit and one retry accounting. Pull requests are made only while
 * slots wait, sized to the slots not yet covered (and to the queue's `maxConcurrent`), on every
 * level with work at once ({@link LevelActivity}); deliveries that arrive together go to the slots
 * most urgent level first. The
 * queue's controls apply as for workers: nothing is handed out while it is paused or held, and
 * starts are counted against its rate limit. Each delivery goes through the library's
 * `beginAttempt` (expired, finished, cancelled or corrupt items never reach a slot).
 */
export class QueueFeed implements SlotSource {
  private readonly slots: WaitSlot[] = [];
  private readonly spares: Spare[] = [];
  private readonly fetches = new Set<ConsumerMessages>();
  /** Messages asked for by running pull requests and not yet delivered, by priority level. */
  private readonly requested = new Array<number>(PRIORITY_LEVELS).fill(0);
  /** Pull requests running. */
  private running = 0;
  /** Deliveries whose try is being started. */
  private starting = 0;
  private consumers?: Consumer[];
  private rules?: AttemptRules;
  private controls: QueueControls = {};
  private controlsWatch?: { stop(): void };
  private activity?: LevelActivity;
  private readonly budget: RateBudget;
  private binding = false;
  private rebind?: NodeJS.Timeout;
  private failures = 0;
  private stopped = false;
  private pumpScheduled = false;
  private readonly warn: RateLimitedLog;

  constructor(private readonly p: QueueFeedParams) {
    this.warn = new RateLimitedLog(p.log);
    this.budget = new RateBudget({ queue: p.name, limiter: p.limiter, log: p.log, onReady: () => this.pump() });
  }

  /** True while bound to the queue's consumers (the queue exists). */
  get bound(): boolean {
    return this.consumers !== undefined;
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
    this.checkIdle();
  }

  /** The queue may have just been created: look for it now rather than at the next recheck. */
  poke(): void {
    if (this.consumers || this.binding || this.slots.length === 0) return;
    clearTimeout(this.rebind);
    this.rebind = undefined;
    void this.bind();
  }

  /** Stops pulling and gives back held deliveries. Slots still registered are left to their waiters. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.rebind);
    this.controlsWatch?.stop();
    this.activity?.stop();
    this.budget.stop();
    for (const f of this.fetches) f.stop();
    this.fetches.clear();
    this.giveBackSpares();
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
    if (isHeld(this.controls)) {
      // Paused or held: hand nothing out and give back what is held here.
      this.giveBackSpares();
      return;
    }
    while (
      this.slots.length > 0 &&
      this.spares.length > 0 &&
      this.budget.allows(this.controls.rateLimit, this.slots.length)
    ) {
      this.budget.spend();
      this.assign(this.spares.shift()!.take(), this.slots.shift()!);
    }
    if (this.slots.length === 0) return;
    if (!this.consumers || !this.rules) {
      if (!this.binding && !this.rebind) void this.bind();
      return;
    }
    // Every level with work is asked for what the waiting slots need, not counting what it was already asked.
    for (const [level, consumer] of this.consumers.entries()) {
      if (!this.activity?.wants(level)) continue;
      const asked = this.requested[level]!;
      const batch = Math.min(this.slots.length - asked, this.rules.queue.maxConcurrent - asked);
      if (batch <= 0) continue;
      this.activity.begin(level);
      void this.fetch(consumer, level, batch);
    }
  }

  private async bind(): Promise<void> {
    const { storage, name, log } = this.p;
    this.binding = true;
    let retryInMs = 0;
    try {
      const queue = await storage.findQueue(name);
      if (queue) {
        const consumers: Consumer[] = [];
        for (let level = 0; level < PRIORITY_LEVELS; level++) {
          consumers.push(await storage.js.consumers.get(queueStream(name), levelConsumer(level)));
        }
        if (!this.activity) {
          const activity = new LevelActivity({ storage, queue: name, log, onWanted: () => this.schedulePump() });
          await activity.start();
          if (this.stopped) activity.stop();
          else this.activity = activity;
        }
        if (!this.controlsWatch) {
          const watch = await (await QueueControlCommands.for(storage)).store.watch(name, (c) => {
            this.budget.limitChanged(this.controls.rateLimit, c.rateLimit);
            this.controls = c;
            this.schedulePump();
          });
          if (this.stopped) watch.stop();
          else this.controlsWatch = watch;
        }
        this.consumers = consumers;
        const cancels = await this.p.cancels();
        this.rules = { storage, queue, retryPolicy: retryDefault, discard: NO_DISCARD, log, cancels };
      } else retryInMs = QUEUE_RECHECK_MS;
    } catch (err) {
      this.failures++;
      retryInMs = this.backoffMs();
      this.warn.warn("bind", "cannot bind to the queue's consumer; retrying", {
        queue: name,
        error: errorMessage(err),
      });
    } finally {
      this.binding = false;
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
    this.pump();
    this.checkIdle();
  }

  private backoffMs(): number {
    return Math.min(QUEUE_RECHECK_MS, 50 * 2 ** Math.min(this.failures, 10));
  }

  private async fetch(consumer: Consumer, level: number, batch: number): Promise<void> {
    this.requested[level]! += batch;
    this.running++;
    let received = 0;
    let iter: ConsumerMessages | undefined;
    let failure: unknown;
    try {
      iter = await consumer.fetch({ max_messages: batch, expires: FETCH_EXPIRES_MS });
      if (this.stopped) iter.stop();
      this.fetches.add(iter);
      for await (const m of iter) {
        received++;
        this.requested[level]!--;
        this.deliver(m, level);
      }
    } catch (err) {
      failure = err;
    } finally {
      if (iter) this.fetches.delete(iter);
      this.requested[level]! -= batch - received;
      this.running--;
    }
    // More may wait behind what a pull returned.
    if (received > 0) this.activity?.mark(level);
    if (this.stopped) return;
    if (failure === undefined) this.failures = 0;
    else {
      // The consumer may be gone (queue deleted) or the connection hiccupped: bind again after a back-off.
      this.failures++;
      this.warn.warn("fetch", "pulling from the queue failed; retrying", {
        queue: this.p.name,
        error: errorMessage(failure),
      });
      if (this.consumers?.includes(consumer)) {
        this.consumers = undefined;
        this.rules = undefined;
        if (!this.rebind && this.slots.length > 0) {
          this.rebind = setTimeout(() => {
            this.rebind = undefined;
            this.pump();
          }, this.backoffMs());
          this.rebind.unref();
        }
      }
    }
    if (this.slots.length === 0 && this.running === 0) this.giveBackSpares();
    this.pump();
    this.checkIdle();
  }

  /**
   * Holds a delivery with the others (most urgent level first) and hands them out once the
   * deliveries that arrived together are in, so a slot gets the most urgent of them.
   */
  private deliver(m: JsMsg, level: number): void {
    if (this.stopped || !this.rules) {
      this.handBack(m);
      return;
    }
    const spare = new Spare(m, level, ackWaitMs(this.rules.queue));
    const at = this.spares.findIndex((s) => s.level > level);
    if (at < 0) this.spares.push(spare);
    else this.spares.splice(at, 0, spare);
    this.schedulePump();
  }

  /** Returns an unstarted delivery to the queue; recorded as a release, so it costs no try. */
  private handBack(m: JsMsg): void {
    if (this.rules) void releaseDelivery(m, this.rules).catch(() => undefined);
    else ignoreClosed(() => m.nak());
  }

  private assign(m: JsMsg, slot: WaitSlot): void {
    const rules = this.rules;
    if (!rules) {
      ignoreClosed(() => m.nak());
      this.slots.unshift(slot);
      return;
    }
    slot.starting();
    this.starting++;
    beginAttempt(m, rules)
      .then(
        (attempt) => (attempt ? slot.fill(attempt, rules.queue) : slot.empty()),
        (err: unknown) => {
          this.p.log.error("could not start a task; it will be redelivered", {
            subject: m.subject,
            error: errorMessage(err),
          });
          ignoreClosed(() => m.nak(1000));
          slot.empty();
        },
      )
      .finally(() => {
        this.starting--;
        this.checkIdle();
      });
  }

  /** Deliveries nobody waits for go back to the queue (not a try: they were never started). */
  private giveBackSpares(): void {
    for (const s of this.spares.splice(0)) this.handBack(s.take());
  }

  private checkIdle(): void {
    if (
      this.slots.length === 0 &&
      this.spares.length === 0 &&
      this.running === 0 &&
      this.starting === 0 &&
      !this.binding
    ) {
      clearTimeout(this.rebind);
      this.rebind = undefined;
      this.p.onIdle(this);
    }
  }
}
