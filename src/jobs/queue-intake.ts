import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { errorMessage } from "../errors.js";
import { ignoreClosed } from "../nats/ignore-closed.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { type AttemptRules, releaseDelivery } from "./attempt.js";
import { LevelActivity } from "./level-activity.js";
import { PriorityPicker } from "./priority-picker.js";
import { keepAliveEveryMs } from "./queue.js";
import { RateBudget } from "./rate-budget.js";
import { deliveryIsStale, type StoredRecord } from "./storage/jetstream-storage.js";
import { DEFAULT_PRIORITY, PRIORITY_LEVELS } from "./storage/layout.js";
import { isHeld, type QueueControls, type QueueControlsStore } from "./storage/queue-controls-store.js";
import type { RateLimiter } from "./storage/rate-limiter.js";
import { decodeTask } from "./storage/task-codec.js";
import type { Task } from "./task.js";

/** A delivery handed out by a {@link QueueIntake}, with its task's record as read when it arrived. */
export interface Delivery {
  msg: JsMsg;
  /** The task it carries, decoded (absent for a corrupt item: the attempt drops it). */
  task?: Task;
  /** What the task store held for the task when the delivery arrived (read in one batch per pull). */
  record?: StoredRecord;
  /** When `record` was read, epoch ms. */
  readAt?: number;
}

/** Parameters of {@link QueueIntake}. */
export interface QueueIntakeParams {
  /** How tasks of this queue are run (the queue definition is `rules.queue`). */
  rules: AttemptRules;
  /** Most deliveries held per priority level. */
  batch: number;
  controls: QueueControlsStore;
  /** The shared rate limiter (opened on first need). */
  limiter: () => Promise<RateLimiter>;
  /** Called whenever {@link QueueIntake.take} may have something new to give. */
  onReady: () => void;
  /**
   * How many deliveries the front end could use now. A worker (`standing`) always wants its
   * batch; the HTTP gateway wants one per waiting `/wait` slot, and nothing in between.
   */
  demand: () => number;
  /**
   * A worker: the default level is pulled all the time (one continuous pull) and deliveries wait
   * in the buffers for free slots. Otherwise (HTTP) every level is pulled in bounded fetches sized
   * to the demand (or, with a {@link lingerMs}, to what the front end recently took), and what
   * arrives when nobody wants it any more is handed back (at once, or after the linger).
   */
  standing: boolean;
  /**
   * Not standing (HTTP) only: when a level is fetched at all, fetch ahead for as many deliveries
   * as the front end took from that level in about the last `lingerMs` (at most
   * {@link MAX_PREFETCH} and the queue's `maxConcurrent`), and keep what arrives beyond the demand
   * for `lingerMs` after the demand last fell to zero before handing it back. Steady `/wait`
   * traffic, even from one client, then costs a pull per batch rather than one per request, while
   * a client that waits now and then fetches only what it asks for, and the intake never holds
   * much more than its front end used in the last moments (what it hands back costs a record
   * write each). @defaultValue 0 (fetch what is wanted now; hand back as soon as nobody wants it)
   */
  lingerMs?: number;
}

/**
 * Most deliveries a non-standing intake fetches ahead per priority level (see
 * {@link QueueIntakeParams.lingerMs}).
 */
export const MAX_PREFETCH = 16;

interface Buffered extends Delivery {
  /** When it was last kept alive (or delivered). */
  since: number;
  /** Its priority level: that of the consumer it came from (each takes one level's subjects). */
  level: number;
}

/** Lifetime of a bounded pull (a fetch). Pull requests cannot be withdrawn: they end by expiring. */
const FETCH_EXPIRES_MS = 2000;
/**
 * Lifetime of the continuous pull of a standing intake (nats.js would use 30 s). A pull request
 * lives on the stream leader's server; when that server dies, the consumer notices only by missed
 * heartbeats (every half of this) or by the pull expiring, so this bounds how long a queue stands
 * still after losing a node (issue 12: 45 s with the default, about 1 s with this).
 */
export const PULL_EXPIRES_MS = 5000;

/**
 * When the continuous pull of a standing intake asks for more: once no more than half of its batch
 * is still owed by the server. nats.js would ask at three quarters, topping up two or three
 * messages at a time for a worker of concurrency 10 — a pull request (a JetStream API message the
 * server handles) every few jobs. At half, each request asks for half a batch, and the half still
 * owed covers the round trip. Measured (bench/ab.ts, worker, nats-server 2.14, 2026-12-03): at
 * concurrency 10, +10–15% tasks/s and 6–16% less client CPU per task; at 100, +2%; asking at a
 * quarter was slower than at three quarters (the buffers ran dry).
 */
const refillBelow = (batch: number) => Math.ceil(batch / 2);

/**
 * How many deliveries the continuous pull of a standing intake keeps asked for, as a multiple of
 * its batch (the worker's concurrency). The ready buffer stays at one batch; the pull asks ahead
 * for two, so the next deliveries are on their way (and their records read) while the buffered
 * ones are taken: with one, a worker of concurrency 1 waited for a pull's round trip between
 * tasks. A busy worker then holds its running tasks, one batch ready and up to two delivered or on
 * their way (all within the queue's `maxConcurrent`). Measured (bench/ab.ts, worker, nats-server
 * 2.14, 2026-12-04, alternating rounds): concurrency 1, +55–87% tasks/s and 30% less client CPU
 * per task; 10, +35%; 100, +5% (there the queue's 100 in flight bound it). Buffering two batches
 * instead, asking for one, gained nothing (+2%).
 */
const PULL_AHEAD = 2;

/**
 * The one intake of a queue's work, for both front ends — a library worker's slots and the HTTP
 * gateway's `/wait` slots: pull loops per priority level feeding small buffers (the default level
 * always, the others while {@link LevelActivity} says they have work), the task records of each
 * arriving batch read in one request (deliveries of finished tasks are acknowledged at once and
 * never handed out), the queue's controls watched live (nothing is handed out while it is paused
 * or held), its rate limit spent from a {@link RateBudget}, buffered deliveries kept alive while
 * they wait and handed back without costing a try (on pause, on stop, and — for HTTP — when nobody
 * has waited for a while). {@link take} hands out the next delivery by the `PriorityPicker` rule.
 */
export class QueueIntake {
  private readonly ready: Buffered[][] = Array.from({ length: PRIORITY_LEVELS }, () => []);
  private readonly room: (() => void)[][] = Array.from({ length: PRIORITY_LEVELS }, () => []);
  private readonly pulls = new Set<ConsumerMessages>();
  /** Messages asked for by running pull requests and not yet delivered, by level. */
  private readonly requested = new Array<number>(PRIORITY_LEVELS).fill(0);
  private readonly picker = new PriorityPicker();
  private readonly handingBack = new Set<Promise<void>>();
  /** Deliveries whose records are being read. */
  private checking: Buffered[] = [];
  /** Deliveries whose record is being read, by level (between arrival and the ready buffers). */
  private readonly inCheck = new Array<number>(PRIORITY_LEVELS).fill(0);
  private checkScheduled = false;
  private held = 0;
  private controls: QueueControls = {};
  private resumed: (() => void)[] = [];
  private loops: Promise<void>[] = [];
  private consumers: (Consumer | undefined)[] = [];
  private stopping = false;
  private watch?: { stop(): void };
  private beat?: NodeJS.Timeout;
  /** Not standing, with a linger: deliveries taken per level in the current and the previous window. */
  private readonly takes: TakeCounts;
  private linger?: NodeJS.Timeout;
  private readonly activity: LevelActivity;
  private readonly budget: RateBudget;
  private readonly warn: RateLimitedLog;

  constructor(private readonly p: QueueIntakeParams) {
    this.warn = new RateLimitedLog(p.rules.log);
    this.takes = new TakeCounts(p.lingerMs ?? 0);
    this.activity = new LevelActivity({
      storage: p.rules.storage,
      queue: p.rules.queue.name,
      log: p.rules.log,
      onWanted: () => this.wake(),
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

  /** Deliveries held here (buffered, or having their records read). */
  get holding(): number {
    return this.held + this.checking.length;
  }

  /** Follows the queue's controls and starts pulling. */
  async start(): Promise<void> {
    this.watch = await this.p.controls.watch(this.name, (c) => this.apply(c));
    const every = keepAliveEveryMs(this.p.rules.queue);
    this.beat = setInterval(() => this.keepAlive(every), every);
    this.beat.unref();
    await this.activity.start();
    for (let level = 0; level < PRIORITY_LEVELS; level++) this.loops.push(this.pull(level));
  }

  /**
   * Stops pulling and hands back what is held (recorded as releases: no try is used up).
   * Resolves when every delivery is handed back.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.watch?.stop();
    clearInterval(this.beat);
    clearTimeout(this.linger);
    this.activity.stop();
    this.budget.stop();
    for (const it of this.pulls) it.stop();
    this.wake();
    await Promise.all(this.loops);
    this.handBackBuffered();
    await Promise.allSettled([...this.handingBack]);
  }

  /** A task this front end handed back will be there again at `level` in `afterMs`. */
  expect(level: number, afterMs: number): void {
    this.activity.expect(level, afterMs);
  }

  /** The front end's demand changed (a slot freed up, a `/wait` arrived): pull if needed. */
  wake(): void {
    for (const r of this.resumed.splice(0)) r();
    for (const waiters of this.room) for (const r of waiters.splice(0)) r();
    this.whenQuiet();
  }

  /**
   * True when {@link take} would give a delivery now. When only the rate limit stands in the way,
   * this asks the limiter for budget in the background and calls `onReady` when it arrives.
   */
  canTake(): boolean {
    if (this.held === 0 || this.stopping || isHeld(this.controls)) return false;
    return this.budget.allows(this.controls.rateLimit, Math.min(this.held, this.p.batch));
  }

  /** The next delivery to start, or undefined when {@link canTake} is false. */
  take(): Delivery | undefined {
    if (!this.canTake()) return undefined;
    // A more urgent delivery whose record is being read (a millisecond) goes before what is ready.
    const firstChecking = this.inCheck.findIndex((n) => n > 0);
    if (firstChecking !== -1 && firstChecking < this.ready.findIndex((r) => r.length > 0)) return undefined;
    const level = this.picker.pick((l) => this.ready[l]!.length);
    if (level === undefined) return undefined;
    const item = this.ready[level]!.shift()!;
    this.held--;
    if (!this.p.standing) this.takes.count(level, Date.now());
    this.budget.spend();
    this.room[level]!.shift()?.();
    return item;
  }

  /** Returns a delivery the front end took but could not start (recorded as a release). */
  handBack(m: JsMsg): void {
    const p = releaseDelivery(m, this.p.rules)
      .catch(() => undefined) // the connection closed: JetStream redelivers after the ack wait
      .finally(() => this.handingBack.delete(p));
    this.handingBack.add(p);
  }

  private apply(c: QueueControls): void {
    const wasPaused = this.controls.paused !== undefined;
    this.budget.limitChanged(this.controls.rateLimit, c.rateLimit);
    this.controls = c;
    if (c.paused && !wasPaused) {
      // Stop pulling and give back what waits here, so nothing is held while the queue is paused.
      for (const it of this.pulls) it.stop();
      this.handBackBuffered();
    }
    this.wake();
    this.p.onReady();
  }

  /**
   * How many more deliveries a level should ask for now: a standing intake fills each level's
   * buffer; an HTTP one asks every level with work for what the waiting slots still need, less
   * what the level holds or was already asked for (so each level has deliveries to offer and the
   * `PriorityPicker` rule decides, as for a worker). Deliveries held at less urgent levels count as
   * slots to come: more urgent work is fetched to go before them even while no slot waits. With a
   * linger, a level that asks at all asks for as many as the front end recently took from it.
   */
  private wanted(level: number): number {
    if (this.p.standing) return this.p.batch - this.ready[level]!.length - this.requested[level]!;
    const cap = this.p.rules.queue.maxConcurrent;
    const asked = this.ready[level]!.length + this.inCheck[level]! + this.requested[level]!;
    let behind = 0;
    for (let l = level + 1; l < PRIORITY_LEVELS; l++) behind += this.ready[l]!.length + this.inCheck[l]!;
    const need = Math.min(Math.max(this.p.demand(), behind), cap) - asked;
    if (need <= 0) return need;
    const recent = this.takes.recent(level, Date.now());
    return Math.max(need, Math.min(recent, MAX_PREFETCH, cap) - asked);
  }

  private async consumer(level: number): Promise<Consumer> {
    const { storage, queue } = this.p.rules;
    this.consumers[level] ??= await storage.workConsumer(queue, level);
    return this.consumers[level]!;
  }

  /**
   * Pulls one priority level: a standing intake's default level with one continuous `consume`,
   * everything else with bounded fetches while the level has work and the front end wants more.
   */
  private async pull(level: number): Promise<void> {
    const { queue } = this.p.rules;
    const continuous = this.p.standing && level === DEFAULT_PRIORITY;
    while (!this.stopping) {
      const want = this.wanted(level);
      if (this.controls.paused || !this.activity.wants(level) || want <= 0) {
        await new Promise<void>((r) => this.resumed.push(r));
        continue;
      }
      this.activity.begin(level);
      let got = 0;
      let iter: ConsumerMessages | undefined;
      try {
        const consumer = await this.consumer(level);
        // On two missed heartbeats, `bind` makes nats.js send a new pull at once. Without it,
        // nats.js first asks for the consumer's info; while the consumer has no leader that times
        // out (5 s) and is retried after a jittered 2.5-7.5 s, so a queue stood still up to ~10 s
        // past its consumer's election (CI, 2.9). A pull sent with no leader is lost like the first
        // and replaced at each further missed heartbeat (every half pull expiry) until one lands:
        // work resumes within a pull expiry of the election. A consumer deleted under a running
        // intake goes unnoticed either way (nats.js retried the info for ever).
        iter = continuous
          ? await consumer.consume({
              max_messages: PULL_AHEAD * this.p.batch,
              threshold_messages: refillBelow(PULL_AHEAD * this.p.batch),
              expires: PULL_EXPIRES_MS,
              bind: true,
            })
          : await consumer.fetch({ max_messages: want, expires: FETCH_EXPIRES_MS });
        this.pulls.add(iter);
        if (!continuous) this.requested[level]! += want;
        if (this.stopping || this.controls.paused) iter.stop();
        for await (const m of iter) {
          got++;
          if (!continuous) this.requested[level]!--;
          if (this.stopping || this.controls.paused) {
            this.handBack(m);
            continue;
          }
          this.arrived({ msg: m, since: Date.now(), level });
          if (continuous)
            while (this.ready[level]!.length >= this.p.batch && !this.stopping && !this.controls.paused) {
              await new Promise<void>((r) => this.room[level]!.push(r));
            }
        }
      } catch (err) {
        if (this.stopping) break;
        this.consumers[level] = undefined;
        this.warn.warn(`pull-${level}`, "pulling from the queue failed; retrying in 1s", {
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
        if (iter) this.pulls.delete(iter);
        if (!continuous) this.requested[level] = 0;
      }
      // More may wait behind what a pull returned.
      if (got > 0) this.activity.mark(level);
      this.whenQuiet();
    }
  }

  /**
   * Not standing: once nobody wants deliveries, hands back what is held — at once without a
   * linger (when no pull is running), else after {@link QueueIntakeParams.lingerMs} of quiet.
   */
  private whenQuiet(): void {
    if (this.p.standing) return;
    if (this.p.demand() > 0) {
      clearTimeout(this.linger);
      this.linger = undefined;
      return;
    }
    const lingerMs = this.p.lingerMs ?? 0;
    if (lingerMs <= 0) {
      if (this.pulls.size === 0) this.handBackBuffered();
      return;
    }
    this.linger ??= setTimeout(() => {
      this.linger = undefined;
      if (this.stopping || this.p.demand() > 0) return;
      this.handBackBuffered();
    }, lingerMs);
    this.linger.unref();
  }

  /**
   * A delivery arrived: its task's record is read together with those of the deliveries that
   * arrive in the same turn of the event loop (one request on servers with batched direct get).
   */
  private arrived(b: Buffered): void {
    this.checking.push(b);
    this.inCheck[b.level]!++;
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    setImmediate(() => void this.check());
  }

  private async check(): Promise<void> {
    this.checkScheduled = false;
    const batch = this.checking.splice(0, 1024);
    if (this.checking.length > 0) {
      this.checkScheduled = true;
      setImmediate(() => void this.check());
    }
    for (const b of batch) {
      try {
        b.task = decodeTask(b.msg.data);
      } catch {
        // corrupt: handed out as it is, and the attempt logs and drops it
      }
    }
    let records: Map<string, StoredRecord> | undefined;
    try {
      const ids = new Set<string>();
      for (const b of batch) if (b.task) ids.add(b.task.id);
      records = await this.p.rules.storage.recordsFor([...ids]);
    } catch (err) {
      // Read again at start (the attempt retries while storage is away).
      this.warn.warn("records", "could not read the records of arriving tasks", { error: errorMessage(err) });
    }
    for (const b of batch) {
      this.inCheck[b.level]!--;
      const rec = b.task ? records?.get(b.task.id) : undefined;
      if (rec && b.task && deliveryIsStale(rec, b.task.run ?? 0)) {
        // A finished task redelivered after a crash, or a replayed work item: never handed out.
        ignoreClosed(() => b.msg.ack());
        continue;
      }
      if (rec) {
        b.record = rec;
        b.readAt = Date.now();
      }
      if (this.stopping || this.controls.paused) {
        this.handBack(b.msg);
        continue;
      }
      this.ready[b.level]!.push(b);
      this.held++;
    }
    this.p.onReady();
  }

  /** Tells JetStream that deliveries waiting here for a while are still wanted. */
  private keepAlive(olderThanMs: number): void {
    const now = Date.now();
    for (const level of [...this.ready, this.checking]) {
      for (const b of level) {
        if (now - b.since < olderThanMs) continue;
        b.since = now;
        ignoreClosed(() => b.msg.working());
      }
    }
  }

  private handBackBuffered(): void {
    for (const level of this.ready) for (const b of level.splice(0)) this.handBack(b.msg);
    this.held = 0;
    for (const waiters of this.room) for (const r of waiters.splice(0)) r();
  }
}

/**
 * Deliveries taken per priority level in two consecutive windows of `windowMs` (the linger's
 * length): what a front end took "recently" is the larger count of the current and the previous
 * window, so it covers between one and two windows and forgets a level the front end stopped
 * taking from. A window of 0 counts nothing.
 */
class TakeCounts {
  private readonly current = new Array<number>(PRIORITY_LEVELS).fill(0);
  private readonly previous = new Array<number>(PRIORITY_LEVELS).fill(0);
  private windowStart = 0;

  constructor(private readonly windowMs: number) {}

  count(level: number, now: number): void {
    if (this.windowMs <= 0) return;
    this.roll(now);
    this.current[level]!++;
  }

  recent(level: number, now: number): number {
    if (this.windowMs <= 0) return 0;
    this.roll(now);
    return Math.max(this.current[level]!, this.previous[level]!);
  }

  private roll(now: number): void {
    const age = now - this.windowStart;
    if (age < this.windowMs) return;
    for (let level = 0; level < PRIORITY_LEVELS; level++) {
      this.previous[level] = age < 2 * this.windowMs ? this.current[level]! : 0;
      this.current[level] = 0;
    }
    this.windowStart = now;
  }
}
