import { setMaxListeners } from "node:events";
import type { ConsumerMessages } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { delayedTaskIdOf, parseWorkSubject } from "../jobs/storage/layout.js";
import { decodeSchedule, dueOf, isCancelMarker, type Schedule } from "../jobs/storage/schedule-codec.js";
import { isReplaced, type ScheduleStore, scheduleRef } from "../jobs/storage/schedule-store.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { nextOccurrence } from "../recurrence.js";
import { sleepUntil, type Timer, timeoutAt } from "../timers.js";
import { type DueEntry, DueQueue } from "./due-queue.js";
import { firedHeaders } from "./gozo-protocol.js";
import { TargetPolicy } from "./target-policy.js";
import { WriteQueue } from "./write-queue.js";

/** Parameters of {@link Scheduler}. */
export interface SchedulerParams {
  store: ScheduleStore;
  log: Logger;
  /** Current time in epoch ms. @defaultValue `Date.now` */
  clock?: () => number;
  /** Schedules due within this window are loaded ahead so they fire on time. @defaultValue 50 ms */
  lookaheadMs?: number;
  /**
   * Messages of schedules due within this window are kept in memory when they are read, so firing
   * them needs no read from JetStream; later ones are read at fire time. @defaultValue 60_000 ms
   */
  cacheWindowMs?: number;
  /** Most fires in progress at once (bounds a burst of overdue schedules after downtime). @defaultValue 2000 */
  maxInFlight?: number;
  /**
   * Most fires started and not yet recorded in the stream at once; firing pauses at this many.
   * A leader that dies fires at most these again after takeover (docs/scheduler.md, "Delivery").
   * At 10,000 fires/s about 1,000 are in progress (most waiting out the look-ahead) and as many
   * records are on their way. @defaultValue 4000
   */
  maxUnrecorded?: number;
  /** Called with the lateness (ms) of every fire. */
  onFire?: (latenessMs: number) => void;
  /** Checked again before each fire; a refused schedule is logged and deleted. @defaultValue `new TargetPolicy()` */
  policy?: TargetPolicy;
  /**
   * Puts a delayed task that came due in its queue (`payload`: the task, encoded as `new`), with
   * `msgId` de-duplicating a fire repeated after a takeover: the task engine's one enqueue path,
   * so the task gets its `new` record and event like any other. Without it, a delayed task's
   * message is published to its work subject like any other schedule's.
   */
  putTask?: (payload: Uint8Array, msgId: string) => Promise<void>;
}

/** Counters a scheduler keeps (also exported as metrics). */
export interface SchedulerStats {
  pending: number;
  fired: number;
  failed: number;
  /** Times the timer woke the scheduler to fire what is due (one wake-up can fire many). */
  wakeups: number;
  /** Fires started and not yet recorded, now: at most what a crash would fire again. */
  unrecorded: number;
  /** True once the stored schedules were all loaded. */
  ready: boolean;
  /** Time the initial load took, ms. */
  loadMs: number;
  /** Lateness (fire time − due time) of recent fires, ms, newest last (at most 10,000). */
  recentLateness: number[];
}

const RETRY_MS = 1000;
const DEFAULT_POLICY = new TargetPolicy();

/**
 * Fires stored schedules on time. Runs only on the elected leader: `start()` loads every stored
 * schedule (headers only: id, due time, sequence) into a heap, follows the stream for new ones and
 * cancels, and at each due time reads the message, publishes it to its target and then records
 * the fire: deletes the message, or replaces it with the next occurrence of a recurring schedule.
 * Records are written in the background and retried until stored; firing pauses while
 * `maxUnrecorded` fires are started and unrecorded, so a leader that dies leaves at most that many
 * (in steady firing, those of its last tens of milliseconds) to be fired again by the next one.
 */
export class Scheduler {
  private readonly queue = new DueQueue();
  /** Entries taken off the heap and not yet fired: key → sequence. A newer message for the key cancels the fire. */
  private readonly popped = new Map<string, number>();
  /** Messages of schedules due soon, by key (only while their sequence is current). */
  private readonly cached = new Map<string, { seq: number; headers: MsgHdrs | undefined; data: Uint8Array }>();
  private readonly clock: () => number;
  private readonly warn: RateLimitedLog;
  private readonly writes: WriteQueue;
  /** Fires started and not yet recorded (being fired, or their records waiting in `writes`). */
  private unrecorded = 0;
  private messages?: ConsumerMessages;
  private follow?: Promise<void>;
  private timer?: Timer;
  /** Aborted by `stop()`: ends the waits of fires in progress. */
  private halt = new AbortController();
  private armedAt = Number.POSITIVE_INFINITY;
  private readonly inFlight = new Set<Promise<void>>();
  /** Set when `tick` stopped at a limit: the next fire or record to finish calls it again. */
  private starved = false;
  private running = false;
  private readonly counters: SchedulerStats = {
    pending: 0,
    fired: 0,
    failed: 0,
    wakeups: 0,
    unrecorded: 0,
    ready: false,
    loadMs: 0,
    recentLateness: [],
  };
  private markReady?: () => void;
  private failReady?: (err: Error) => void;

  constructor(private readonly p: SchedulerParams) {
    this.clock = p.clock ?? Date.now;
    this.warn = new RateLimitedLog(p.log);
    this.writes = new WriteQueue(() => this.resume());
  }

  private get lookahead(): number {
    return this.p.lookaheadMs ?? 50;
  }

  /** Current counters. */
  stats(): SchedulerStats {
    return { ...this.counters, pending: this.queue.size, unrecorded: this.unrecorded };
  }

  /** Loads the stored schedules and starts firing; resolves once every stored schedule is loaded. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.halt = new AbortController();
    setMaxListeners(0, this.halt.signal); // one listener per fire waiting, each removed when it ends
    const t0 = Date.now();
    const ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.messages = await this.p.store.follow();
    // The load is complete once the follower has been handed the last message stored now (read
    // after the follower exists, so it will be handed). An empty stream (possibly after every
    // schedule fired and was deleted) has nothing to load.
    const tail = await this.p.store.lastSeq();
    if (tail === 0) this.setReady(t0);
    this.follow = this.followLoop(t0, tail);
    await ready;
  }

  private setReady(t0: number): void {
    if (this.counters.ready) return;
    this.counters.ready = true;
    this.counters.loadMs = Date.now() - t0;
    this.p.log.info("scheduler ready", { pending: this.queue.size, loadMs: this.counters.loadMs });
    this.markReady?.();
    this.arm();
  }

  private async followLoop(t0: number, tail: number): Promise<void> {
    const messages = this.messages!;
    try {
      for await (const m of messages) {
        const ref = scheduleRef(m);
        this.popped.delete(ref.key);
        this.cached.delete(ref.key);
        if (isCancelMarker(ref.headers)) {
          this.queue.delete(ref.key);
          this.discard(ref.seq);
        } else {
          try {
            const due = dueOf(ref.headers!);
            this.queue.set(ref.key, due, ref.seq);
            if (due - this.clock() < (this.p.cacheWindowMs ?? 60_000)) {
              this.cached.set(ref.key, { seq: ref.seq, headers: ref.headers, data: ref.data });
            }
          } catch (err) {
            this.p.log.error("dropping a corrupt stored schedule", {
              seq: ref.seq,
              key: ref.key,
              error: (err as Error).message,
            });
            this.discard(ref.seq);
          }
        }
        if (!this.counters.ready) {
          // Not `pending` alone: nats-server 2.9 can report it too high when messages are replaced
          // and deleted while the follower reads (seen: the stream's last message handed over with
          // 4,483 "pending"), and the scheduler would never start firing.
          if (ref.pending === 0 || ref.seq >= tail) this.setReady(t0);
        } else this.arm();
      }
    } catch (err) {
      if (this.running) this.p.log.error("following the schedules stream failed", { error: (err as Error).message });
      if (!this.counters.ready) this.failReady?.(err as Error);
    }
  }

  /**
   * (Re)arms the single timer for the earliest schedule, minus the look-ahead. The timer waits in
   * steps Node accepts and wakes the scheduler only once that time has come on the clock, however
   * far ahead it is (a schedule 40 days ahead would otherwise wake it every millisecond).
   */
  private arm(): void {
    if (!this.running || !this.counters.ready) return;
    const top = this.queue.peek();
    if (!top) return;
    const at = top.due - this.lookahead;
    if (at >= this.armedAt) return;
    this.timer?.clear();
    this.armedAt = at;
    this.timer = timeoutAt(() => this.tick(), at, { clock: this.clock });
  }

  private tick(): void {
    this.armedAt = Number.POSITIVE_INFINITY;
    if (!this.running) return;
    this.counters.wakeups++;
    const until = this.clock() + this.lookahead;
    while (!this.atLimit()) {
      const e = this.queue.popDue(until);
      if (!e) break;
      this.popped.set(e.key, e.seq);
      this.unrecorded++;
      this.track(this.fire(e));
    }
    // Back-pressure: the next fire or write to finish calls tick again.
    if (this.atLimit()) this.starved = true;
    else this.arm();
  }

  private atLimit(): boolean {
    return this.inFlight.size >= (this.p.maxInFlight ?? 2000) || this.unrecorded >= (this.p.maxUnrecorded ?? 4000);
  }

  /** Fires again what `tick` held back at a limit, once something finished. */
  private resume(): void {
    if (!this.starved) return;
    this.starved = false;
    this.tick();
  }

  private track(p: Promise<void>): void {
    const t = p
      .catch((err: Error) => this.p.log.error("scheduler operation failed", { error: err.message }))
      .finally(() => {
        this.inFlight.delete(t);
        this.resume();
      });
    this.inFlight.add(t);
  }

  /** Deletes a message that no longer means anything (a processed marker, a corrupt schedule). */
  private discard(seq: number): void {
    this.writes.add(() =>
      this.p.store.delete(seq).catch((err: Error) => {
        // Left behind: the next load deletes it again; nothing fires because of it.
        this.warn.warn("discard", "could not delete a stored schedule message", { seq, error: err.message });
      }),
    );
  }

  private async fire(e: DueEntry): Promise<void> {
    let published = false;
    try {
      published = await this.fireEntry(e);
    } finally {
      if (!published) this.unrecorded--; // else its record counts it down
      if (this.popped.get(e.key) === e.seq) {
        this.popped.delete(e.key);
        if (this.cached.get(e.key)?.seq === e.seq) this.cached.delete(e.key);
      }
    }
  }

  /** Fires `e` if it is still due and current; true once published (its record then queued). */
  private async fireEntry(e: DueEntry): Promise<boolean> {
    const { store } = this.p;
    const hit = this.cached.get(e.key);
    const stored = hit?.seq === e.seq ? hit : await store.getBySeq(e.seq);
    if (!stored || isCancelMarker(stored.headers)) return false;
    let s: Schedule;
    try {
      s = decodeSchedule(stored.headers, stored.data);
    } catch (err) {
      this.p.log.error("dropping a corrupt stored schedule", { seq: e.seq, error: (err as Error).message });
      this.discard(e.seq);
      return false;
    }
    const refused = (this.p.policy ?? DEFAULT_POLICY).fireRefusal(s);
    if (refused) {
      this.warn.warn(`refused:${refused.code}`, "deleted a stored schedule the target policy refuses", {
        id: s.id,
        target: s.target,
        code: refused.code,
        error: refused.message,
      });
      this.discard(e.seq);
      return false;
    }
    // Loaded within the look-ahead: wait for the due time itself (on the clock, clamped).
    if (s.due > this.clock()) await sleepUntil(s.due, { clock: this.clock, signal: this.halt.signal });
    // Replaced or cancelled while we waited: the newer version owns the key now.
    if (!this.running || this.popped.get(e.key) !== e.seq) return false;
    try {
      await this.publish(s);
    } catch (err) {
      this.counters.failed++;
      this.warn.warn(`fire:${s.target}`, "could not deliver a scheduled message; retrying", {
        id: s.id,
        target: s.target,
        error: (err as Error).message,
      });
      if (this.popped.get(e.key) === e.seq) this.queue.set(e.key, this.clock() + RETRY_MS, e.seq);
      this.arm();
      return false;
    }
    this.counters.fired++;
    const lat = this.counters.recentLateness;
    const late = this.clock() - s.due;
    lat.push(late);
    this.p.onFire?.(late);
    if (lat.length > 10_000) lat.splice(0, lat.length - 10_000);
    // The fire's slot is free once published; its record waits in `writes`, bounded by `maxUnrecorded`.
    this.writes.add(() => this.record(e, s).finally(() => this.unrecorded--));
    return true;
  }

  /**
   * Records that `s` (stored at `e.seq`) fired: deletes its message, or replaces it with the next
   * occurrence of a recurring schedule — only while it is still the stored version, so a
   * replacement stored meanwhile wins. Retried until stored while this instance leads; if it dies
   * first, the next leader fires the schedule again (see docs/scheduler.md, "Delivery").
   */
  private async record(e: DueEntry, s: Schedule): Promise<void> {
    const { store } = this.p;
    const next = s.recurrence ? nextOccurrence(s.recurrence, Math.max(this.clock(), s.due), s.createdAt) : undefined;
    for (;;) {
      try {
        if (next === undefined) await store.delete(e.seq);
        else await store.save({ ...s, due: next }, { replacing: e.seq });
        return;
      } catch (err) {
        if (isReplaced(err)) {
          this.p.log.debug("a fired schedule was replaced meanwhile; the replacement stands", { id: s.id });
          return;
        }
        this.warn.warn("record", "could not record a fired schedule; retrying", {
          id: s.id,
          error: (err as Error).message,
        });
      }
      if (!this.running) return;
      await sleepUntil(Date.now() + RETRY_MS, { signal: this.halt.signal });
      if (!this.running) return;
    }
  }

  private async publish(s: Schedule): Promise<void> {
    if (this.p.putTask && delayedTaskIdOf(s.id) !== undefined && parseWorkSubject(s.target)) {
      await this.p.putTask(s.payload, `${s.id}:${s.due}`);
      return;
    }
    await this.p.store.fire(s, firedHeaders(s));
  }

  /** Stops firing (in-progress fires finish) and forgets the in-memory schedules. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.halt.abort();
    this.timer?.clear();
    this.armedAt = Number.POSITIVE_INFINITY;
    await this.messages?.close().catch(() => undefined);
    await this.follow;
    await Promise.allSettled([...this.inFlight]);
    await this.writes.drain();
    this.starved = false;
    for (let e = this.queue.peek(); e; e = this.queue.peek()) this.queue.delete(e.key);
    this.popped.clear();
    this.cached.clear();
    this.counters.ready = false;
  }
}
