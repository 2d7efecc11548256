import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { type AttemptRules, beginAttempt, releaseDelivery } from "../jobs/attempt.js";
import { ackWaitMs } from "../jobs/queue.js";
import { retryDefault } from "../jobs/retry-policy.js";
import type { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import { DEFAULT_PRIORITY, levelConsumer, queueStream } from "../jobs/storage/layout.js";
import type { TaskState } from "../jobs/task.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
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
}

const NO_DISCARD: ReadonlySet<TaskState> = new Set();
const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A delivery nobody waits for any more, kept alive until a `/wait` takes it or it is given back. */
class Spare {
  private readonly beat: NodeJS.Timeout;

  constructor(
    readonly msg: JsMsg,
    ackWait: number,
  ) {
    this.beat = setInterval(() => ignoreClosed(() => msg.working()), Math.max(50, ackWait / 2));
    this.beat.unref();
  }

  /** Stops keeping it alive and returns it. */
  take(): JsMsg {
    clearInterval(this.beat);
    return this.msg;
  }
}

/**
 * Feeds `/wait` slots of one queue from the queue's shared durable consumer (the one library
 * workers pull from), so HTTP consumers and library workers share one line, one max-concurrency
 * limit and one retry accounting. Pull requests are made only while slots wait, sized to the slots
 * not yet covered (and to the queue's `maxConcurrent`); each delivery goes through the library's
 * `beginAttempt` (expired, finished or corrupt items never reach a slot).
 */
export class QueueFeed implements SlotSource {
  private readonly slots: WaitSlot[] = [];
  private readonly spares: Spare[] = [];
  private readonly fetches = new Set<ConsumerMessages>();
  /** Messages asked for by running pull requests and not yet delivered. */
  private requested = 0;
  /** Pull requests running. */
  private running = 0;
  /** Deliveries whose try is being started. */
  private starting = 0;
  private consumer?: Consumer;
  private rules?: AttemptRules;
  private binding = false;
  private rebind?: NodeJS.Timeout;
  private failures = 0;
  private stopped = false;
  private pumpScheduled = false;
  private readonly warn: RateLimitedLog;

  constructor(private readonly p: QueueFeedParams) {
    this.warn = new RateLimitedLog(p.log);
  }

  /** True while bound to the queue's consumer (the queue exists). */
  get bound(): boolean {
    return this.consumer !== undefined;
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
    if (this.consumer || this.binding || this.slots.length === 0) return;
    clearTimeout(this.rebind);
    this.rebind = undefined;
    void this.bind();
  }

  /** Stops pulling and gives back held deliveries. Slots still registered are left to their waiters. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.rebind);
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
    while (this.slots.length > 0 && this.spares.length > 0)
      this.assign(this.spares.shift()!.take(), this.slots.shift()!);
    if (this.slots.length === 0) return;
    if (!this.consumer || !this.rules) {
      if (!this.binding && !this.rebind) void this.bind();
      return;
    }
    const batch = Math.min(this.slots.length - this.requested, this.rules.queue.maxConcurrent - this.requested);
    if (batch > 0) void this.fetch(this.consumer, batch);
  }

  private async bind(): Promise<void> {
    const { storage, name, log } = this.p;
    this.binding = true;
    let retryInMs = 0;
    try {
      const queue = await storage.findQueue(name);
      if (queue) {
        this.consumer = await storage.js.consumers.get(queueStream(name), levelConsumer(DEFAULT_PRIORITY));
        this.rules = { storage, queue, retryPolicy: retryDefault, discard: NO_DISCARD, log };
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

  private async fetch(consumer: Consumer, batch: number): Promise<void> {
    this.requested += batch;
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
        this.requested--;
        this.deliver(m);
      }
    } catch (err) {
      failure = err;
    } finally {
      if (iter) this.fetches.delete(iter);
      this.requested -= batch - received;
      this.running--;
    }
    if (this.stopped) return;
    if (failure === undefined) this.failures = 0;
    else {
      // The consumer may be gone (queue deleted) or the connection hiccupped: bind again after a back-off.
      this.failures++;
      this.warn.warn("fetch", "pulling from the queue failed; retrying", {
        queue: this.p.name,
        error: errorMessage(failure),
      });
      if (this.consumer === consumer) {
        this.consumer = undefined;
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

  private deliver(m: JsMsg): void {
    const slot = this.slots.shift();
    if (slot) this.assign(m, slot);
    else if (this.stopped || !this.rules) this.handBack(m);
    else this.spares.push(new Spare(m, ackWaitMs(this.rules.queue)));
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
