import type { KV, KvWatchEntry } from "@nats-io/kv";
import { ValidationError } from "../../errors.js";
import { updateKey } from "../../nats/buckets.js";
import { type Timer, timeoutAt } from "../../timers.js";
import { queueControlsKey } from "./layout.js";

/** A queue-wide rate limit: at most `limit` tasks start per `intervalMs`, across all workers. */
export interface RateLimit {
  /** Tasks allowed per interval (also the largest burst). */
  limit: number;
  /** The interval, ms. */
  intervalMs: number;
}

/**
 * The runtime controls of a queue, stored in the config bucket under `controls.<queue>` and
 * watched by every worker and gateway, so a change reaches them within milliseconds and survives
 * restarts.
 */
export interface QueueControls {
  /** Set while the queue is paused: workers take no new work. */
  paused?: { at: number };
  /** Queue-wide rate limit, when set. */
  rateLimit?: RateLimit;
  /** Epoch ms until which workers take no new work (a handler asked to hold the queue back). */
  holdUntil?: number;
}

/** True while the controls keep workers from taking new work (paused, or held until later). */
export function isHeld(c: QueueControls, now = Date.now()): boolean {
  return c.paused !== undefined || (c.holdUntil !== undefined && c.holdUntil > now);
}

/** Checks a rate limit. @throws ValidationError (`invalid_rate_limit`) */
export function validateRateLimit(r: RateLimit): RateLimit {
  const ok =
    Number.isInteger(r.limit) &&
    r.limit >= 1 &&
    Number.isInteger(r.intervalMs) &&
    r.intervalMs >= 1 &&
    r.intervalMs <= 86_400_000;
  if (!ok) {
    throw new ValidationError(
      "invalid_rate_limit",
      `a rate limit needs an integer limit >= 1 and an integer intervalMs 1-86400000, got ${JSON.stringify(r)}`,
    );
  }
  return { limit: r.limit, intervalMs: r.intervalMs };
}

/** Parses a stored controls value; anything unreadable counts as no controls. */
export function parseControls(data: unknown): QueueControls {
  const c = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const out: QueueControls = {};
  const paused = c.paused as { at?: unknown } | undefined;
  if (paused && typeof paused.at === "number") out.paused = { at: paused.at };
  const rl = c.rateLimit as RateLimit | undefined;
  if (rl) {
    try {
      out.rateLimit = validateRateLimit(rl);
    } catch {
      // ignored: a malformed limit is treated as none
    }
  }
  if (typeof c.holdUntil === "number") out.holdUntil = c.holdUntil;
  return out;
}

const PREFIX = queueControlsKey("");

/**
 * Reads, changes and watches queue controls in the config bucket. However many queues a process
 * serves, it follows their controls with one KV watch (of `controls.>`), started with the first
 * listener: a watch per queue cost the server an ordered consumer each.
 */
export class QueueControlsStore {
  private readonly listeners = new Map<string, Set<(c: QueueControls) => void>>();
  private readonly current = new Map<string, QueueControls>();
  private watching?: Promise<{ stop(): void }>;

  constructor(private readonly kv: KV) {}

  /** The controls of a queue (empty when none were ever set). */
  async get(queue: string): Promise<QueueControls> {
    const e = await this.kv.get(queueControlsKey(queue));
    return e?.operation === "PUT" ? parseControls(e.json()) : {};
  }

  /** Applies `change` to the queue's controls atomically (retried on concurrent writes); returns the result. */
  async update(queue: string, change: (c: QueueControls) => QueueControls): Promise<QueueControls> {
    return updateKey<QueueControls>(this.kv, queueControlsKey(queue), (cur) => change(parseControls(cur)));
  }

  /**
   * Calls `apply` with the queue's current controls, again after every change, and once more when
   * a hold ends (nothing is written then, yet what `isHeld` says changes), until `stop()`.
   * Resolves once the current value has been applied.
   */
  async watch(queue: string, apply: (c: QueueControls) => void): Promise<{ stop(): void }> {
    let holdEnd: Timer | undefined;
    const applyNow = (c: QueueControls) => {
      holdEnd?.clear();
      const until = c.holdUntil ?? 0;
      if (until > Date.now()) holdEnd = timeoutAt(() => apply(c), until + 1).unref();
      apply(c);
    };
    let set = this.listeners.get(queue);
    if (!set) {
      set = new Set();
      this.listeners.set(queue, set);
    }
    set.add(applyNow);
    await this.follow();
    // What the watch delivered so far, or (a queue without controls) a read of its own.
    applyNow(this.current.get(queue) ?? (await this.get(queue)));
    return {
      stop: () => {
        holdEnd?.clear();
        set.delete(applyNow);
        if (set.size === 0) this.listeners.delete(queue);
        if (this.listeners.size === 0) void this.unfollow();
      },
    };
  }

  private follow(): Promise<{ stop(): void }> {
    this.watching ??= (async () => {
      const w = await this.kv.watch({ key: `${PREFIX}*` });
      void (async () => {
        for await (const e of w) this.changed(e);
      })().catch(() => undefined); // the watch ends with the connection
      return w;
    })();
    this.watching.catch(() => {
      this.watching = undefined;
    });
    return this.watching;
  }

  private async unfollow(): Promise<void> {
    const w = this.watching;
    this.watching = undefined;
    this.current.clear();
    (await w?.catch(() => undefined))?.stop();
  }

  private changed(e: KvWatchEntry): void {
    const queue = e.key.slice(PREFIX.length);
    const c = e.operation === "PUT" ? parseControls(e.json()) : {};
    this.current.set(queue, c);
    for (const l of this.listeners.get(queue) ?? []) l(c);
  }
}
