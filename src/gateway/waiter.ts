import type { Attempt } from "../jobs/attempt.js";
import type { ResolvedQueue } from "../jobs/queue.js";
import type { Logger } from "../logger.js";
import { clampDelay } from "../timers.js";
import type { Leases } from "./leases.js";

/** Where a {@link Waiter} registers its slots: the feed of each queue (see `feed.ts`). */
export interface SlotSource {
  /** Queues `slot` for the next task of its queue. */
  add(slot: WaitSlot): void;
  /** Puts a slot whose task could not be started back at the head of the line. */
  requeue(slot: WaitSlot): void;
  /** Withdraws a waiting slot. */
  remove(slot: WaitSlot): void;
  /** Resolves once the source knows whether its queue exists (and, if it does, can pull from it). */
  settled(): Promise<void>;
}

/** A task taken for a `/wait` answer, with the definition of the queue it came from. */
export interface Taken {
  attempt: Attempt;
  queue: ResolvedQueue;
}

type SlotState = "waiting" | "starting" | "filled";

/** One position of a `/wait` answer: waits for one task of one queue. */
export class WaitSlot {
  /** Set once filled. */
  taken?: Taken;
  /** Where the slot is in its life; the feed moves it along. */
  state: SlotState = "waiting";

  constructor(
    private readonly waiter: Waiter,
    /** The queue this slot takes from. */
    readonly queue: string,
  ) {}

  /** The feed picked a delivery for this slot and is starting its try. */
  starting(): void {
    this.state = "starting";
    this.waiter.changed();
  }

  /** The try started: the slot holds its task. */
  fill(attempt: Attempt, queue: ResolvedQueue): void {
    this.state = "filled";
    this.taken = { attempt, queue };
    this.waiter.filled(this);
  }

  /** The delivery turned out not to be runnable (expired, finished, corrupt): wait again. */
  empty(): void {
    this.state = "waiting";
    this.waiter.emptied(this);
  }
}

/** Parameters of {@link Waiter}. */
export interface WaiterParams {
  /** Queue of each slot, in answer order (repeats allowed). */
  queues: readonly string[];
  /** How long to wait for every slot to fill. */
  timeoutMs: number;
  /**
   * Count the timeout from when every queue's source is {@link SlotSource.settled} rather than from
   * the start (for the short grace of a `/wait` with timeout 0). @defaultValue false
   */
  afterSettled?: boolean;
  /** The feed of a queue. */
  feed: (queue: string) => SlotSource;
  leases: Leases;
  log: Logger;
  /** Aborts when the client went away: tasks already taken are given back. */
  signal?: AbortSignal;
}

/**
 * One `/wait` request, with emq's semantics: it answers as soon as every slot holds a task, or at
 * its timeout (or at shutdown) with what it holds and `null` for the rest. Tasks taken while other
 * slots still wait are kept alive (leases) and count as in flight. Slots of one queue are served
 * first come, first served across waiters.
 */
export class Waiter {
  private readonly slots: WaitSlot[];
  private state: "open" | "closing" | "done" = "open";
  private cancelled = false;
  private timer?: NodeJS.Timeout;
  private settle!: (taken: (Taken | null)[]) => void;
  /** Resolves with the answer: per slot, its task or null (all null when the client went away). */
  readonly result = new Promise<(Taken | null)[]>((resolve) => {
    this.settle = resolve;
  });

  constructor(private readonly p: WaiterParams) {
    this.slots = p.queues.map((q) => new WaitSlot(this, q));
  }

  /** Registers the slots and starts the timeout. */
  start(): this {
    const { signal } = this.p;
    if (signal?.aborted) {
      this.cancelled = true;
      this.close();
      return this;
    }
    signal?.addEventListener("abort", () => this.cancel(), { once: true });
    for (const s of this.slots) if (this.state === "open") this.p.feed(s.queue).add(s);
    if (this.state === "open") {
      const arm = () => {
        if (this.state === "open") this.timer = setTimeout(() => this.close(), clampDelay(this.p.timeoutMs));
      };
      if (this.p.afterSettled) {
        const queues = [...new Set(this.p.queues)];
        void Promise.all(queues.map((q) => this.p.feed(q).settled())).then(arm, arm);
      } else arm();
      this.check();
    }
    return this;
  }

  /** Ends the wait now, answering with what it holds (shutdown). */
  end(): void {
    this.close();
  }

  /** The client went away: stop waiting and give back what was taken. */
  cancel(): void {
    if (this.state === "done") return;
    this.cancelled = true;
    this.close();
  }

  /** @internal called by a slot when its state changed. */
  changed(): void {
    this.check();
  }

  /** @internal called by a slot once it holds a task. */
  filled(slot: WaitSlot): void {
    this.p.leases.hold(slot.taken!.attempt);
    this.check();
  }

  /** @internal called by a slot whose delivery could not run. */
  emptied(slot: WaitSlot): void {
    if (this.state === "open") this.p.feed(slot.queue).requeue(slot);
    this.check();
  }

  private close(): void {
    if (this.state !== "open") return;
    this.state = "closing";
    clearTimeout(this.timer);
    for (const s of this.slots) if (s.state === "waiting") this.p.feed(s.queue).remove(s);
    this.check();
  }

  private check(): void {
    if (this.state === "open") {
      if (this.slots.every((s) => s.state === "filled")) this.close();
      return;
    }
    if (this.state !== "closing" || this.slots.some((s) => s.state === "starting")) return;
    this.state = "done";
    if (this.cancelled) {
      for (const s of this.slots) if (s.taken) this.giveBack(s.taken);
      this.settle(this.slots.map(() => null));
    } else this.settle(this.slots.map((s) => s.taken ?? null));
  }

  /**
   * Gives a task back to its queue after the client went away, undoing the try it started (the
   * client never saw it); it is available again at once.
   */
  private giveBack({ attempt }: Taken): void {
    this.p.leases.forget(attempt);
    attempt.release().catch((err) =>
      this.p.log.error("could not release a task; it will be redelivered", {
        task: attempt.task.id,
        error: (err as Error).message,
      }),
    );
  }
}
