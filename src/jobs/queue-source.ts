import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { clampDelay } from "../timers.js";
import { type AttemptRules, releaseDelivery } from "./attempt.js";
import { LevelActivity } from "./level-activity.js";
import { PriorityPicker } from "./priority-picker.js";
import { ackWaitMs } from "./queue.js";
import { isHeld, type QueueControls, type QueueControlsStore } from "./queue-controls.js";
import { RateBudget } from "./rate-budget.js";
import type { RateLimiter } from "./rate-limiter.js";
import { DEFAULT_PRIORITY, levelConsumer, PRIORITY_LEVELS, queueStream } from "./storage/layout.js";

/** Parameters of {@link QueueSource}. */
export interface QueueSourceParams {
  /** How tasks of this queue are run (the queue definition is `rules.queue`). */
  rules: AttemptRules;
  /** Most deliveries buffered per priority level. */
  batch: number;
  controls: QueueControlsStore;
  /** The shared rate limiter (opened on first need). */
  limiter: () => Promise<RateLimiter>;
  /** Called whenever {@link QueueSource.take} may have something new to give. */
  onReady: () => void;
}

interface Buffered {
  msg: JsMsg;
  /** When it was last kept alive (or delivered). */
  since: number;
}

/** Lifetime of a pull request on a non-default level. */
const LEVEL_FETCH_EXPIRES_MS = 5000;

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The deliveries of one queue for one worker: a pull loop per priority level feeding small
 * buffers, from which {@link take} hands out the next task by the {@link PriorityPicker} rule —
 * unless the queue is paused, held, or out of rate-limit budget (the queue's controls, watched
 * live). Buffered deliveries are kept alive while they wait and handed back, without costing a
 * try, on pause and on stop.
 */
export class QueueSource {
  private readonly ready: Buffered[][] = Array.from({ length: PRIORITY_LEVELS }, () => []);
  private readonly room: (() => void)[][] = Array.from({ length: PRIORITY_LEVELS }, () => []);
  private readonly iters: (ConsumerMessages | undefined)[] = [];
  private readonly picker = new PriorityPicker();
  private readonly handingBack = new Set<Promise<void>>();
  private waiting = 0;
  private controls: QueueControls = {};
  private resumed: (() => void)[] = [];
  private loops: Promise<void>[] = [];
  private stopping = false;
  private watch?: { stop(): void };
  private beat?: NodeJS.Timeout;
  private readonly activity: LevelActivity;
  private readonly budget: RateBudget;

  constructor(private readonly p: QueueSourceParams) {
    this.activity = new LevelActivity({
      storage: p.rules.storage,
      queue: p.rules.queue.name,
      log: p.rules.log,
      onWanted: () => {
        for (const r of this.resumed.splice(0)) r();
      },
    });
    this.budget = new RateBudget({
      queue: p.rules.queue.name,
      limiter: p.limiter,
      log: p.rules.log,
      onReady: p.onReady,
    });
  }

  /** The queue's name. */
  get name(): string {
    return this.p.rules.queue.name;
  }

  /**
   * Applies the queue's controls, then starts pulling: the default priority level always, the
   * others while they have work (see {@link pull}).
   */
  async start(): Promise<void> {
    this.watch = await this.p.controls.watch(this.name, (c) => this.apply(c));
    const every = clampDelay(Math.max(50, ackWaitMs(this.p.rules.queue) / 3));
    this.beat = setInterval(() => this.keepAlive(every), every);
    this.beat.unref();
    await this.activity.start();
    for (let level = 0; level < PRIORITY_LEVELS; level++) this.loops.push(this.pull(level));
  }

  /**
   * Stops pulling and hands back what is buffered (recorded as releases: no try is used up).
   * Resolves when every delivery is handed back.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.watch?.stop();
    clearInterval(this.beat);
    this.activity.stop();
    this.budget.stop();
    for (const it of this.iters) it?.stop();
    this.wakeAll();
    await Promise.all(this.loops);
    this.handBackBuffered();
    await Promise.allSettled([...this.handingBack]);
  }

  /**
   * True when {@link take} would give a task now. When only the rate limit stands in the way,
   * this asks the limiter for budget in the background and calls `onReady` when it arrives.
   */
  canTake(): boolean {
    if (this.waiting === 0 || this.stopping || isHeld(this.controls)) return false;
    return this.budget.allows(this.controls.rateLimit, Math.min(this.waiting, this.p.batch));
  }

  /** The next delivery to run, or undefined when {@link canTake} is false. */
  take(): JsMsg | undefined {
    if (!this.canTake()) return undefined;
    const level = this.picker.pick((l) => this.ready[l]!.length);
    if (level === undefined) return undefined;
    const item = this.ready[level]!.shift()!;
    this.waiting--;
    this.budget.spend();
    this.room[level]!.shift()?.();
    return item.msg;
  }

  private apply(c: QueueControls): void {
    const wasPaused = this.controls.paused !== undefined;
    this.budget.limitChanged(this.controls.rateLimit, c.rateLimit);
    this.controls = c;
    if (c.paused && !wasPaused) {
      // Stop pulling and give back what waits here, so nothing is held while the queue is paused.
      for (const it of this.iters) it?.stop();
      this.handBackBuffered();
      this.wakeAll();
    } else if (!c.paused && wasPaused) this.wakeAll();
    this.p.onReady();
  }

  /**
   * Pulls one priority level into its buffer: the default level all the time (one continuous
   * `consume`), another level while {@link LevelActivity} says it has work, with bounded `fetch`es.
   */
  private async pull(level: number): Promise<void> {
    const { storage, queue, log } = this.p.rules;
    const always = level === DEFAULT_PRIORITY;
    while (!this.stopping) {
      if (this.controls.paused || !this.activity.wants(level)) {
        await new Promise<void>((r) => this.resumed.push(r));
        continue;
      }
      this.activity.begin(level);
      let got = 0;
      try {
        const consumer = await storage.js.consumers.get(queueStream(queue.name), levelConsumer(level));
        const room = Math.max(1, this.p.batch - this.ready[level]!.length);
        const iter = always
          ? await consumer.consume({ max_messages: this.p.batch })
          : await consumer.fetch({ max_messages: room, expires: LEVEL_FETCH_EXPIRES_MS });
        this.iters[level] = iter;
        if (this.stopping || this.controls.paused) iter.stop();
        for await (const m of iter) {
          got++;
          if (this.stopping || this.controls.paused) {
            this.handBack(m);
            continue;
          }
          this.ready[level]!.push({ msg: m, since: Date.now() });
          this.waiting++;
          this.p.onReady();
          while (this.ready[level]!.length >= this.p.batch && !this.stopping && !this.controls.paused) {
            await new Promise<void>((r) => this.room[level]!.push(r));
          }
        }
      } catch (err) {
        if (this.stopping) break;
        log.error("work queue consumer failed; retrying in 1s", {
          queue: queue.name,
          priority: level,
          error: errorMessage(err),
        });
        got = 1; // try again after the pause
        await new Promise<void>((r) => {
          const t = setTimeout(r, 1000);
          this.resumed.push(() => {
            clearTimeout(t);
            r();
          });
        });
      } finally {
        this.iters[level] = undefined;
      }
      // More may wait behind what a pull returned.
      if (got > 0) this.activity.mark(level);
    }
  }

  private wakeAll(): void {
    for (const r of this.resumed.splice(0)) r();
    for (const waiters of this.room) for (const r of waiters.splice(0)) r();
  }

  /** Tells JetStream that deliveries waiting here for a while are still wanted. */
  private keepAlive(olderThanMs: number): void {
    const now = Date.now();
    for (const level of this.ready) {
      for (const b of level) {
        if (now - b.since < olderThanMs) continue;
        b.since = now;
        try {
          b.msg.working();
        } catch {
          // The connection closed; JetStream redelivers after the ack wait.
        }
      }
    }
  }

  private handBackBuffered(): void {
    for (const level of this.ready) for (const b of level.splice(0)) this.handBack(b.msg);
    this.waiting = 0;
  }

  private handBack(m: JsMsg): void {
    const p = releaseDelivery(m, this.p.rules)
      .catch(() => undefined) // the connection closed: JetStream redelivers after the ack wait
      .finally(() => this.handingBack.delete(p));
    this.handingBack.add(p);
  }
}
