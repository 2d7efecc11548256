import type { KV } from "@nats-io/kv";
import { ValidationError } from "../errors.js";
import { updateKey } from "../nats/buckets.js";
import { type Timer, timeoutAt } from "../timers.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { queueControlsKey } from "./storage/layout.js";

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

/** Reads and changes queue controls in the config bucket. */
export class QueueControlsStore {
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
    applyNow(await this.get(queue));
    const w = await this.kv.watch({ key: queueControlsKey(queue) });
    void (async () => {
      for await (const e of w) applyNow(e.operation === "PUT" ? parseControls(e.json()) : {});
    })().catch(() => undefined); // the watch ends with the connection
    return {
      stop: () => {
        holdEnd?.clear();
        w.stop();
      },
    };
  }
}

/**
 * The everyday queue controls as operations (used by the client and the REST API alike): each
 * checks that the queue exists, changes its controls atomically and publishes the queue event.
 */
export class QueueControlCommands {
  constructor(
    private readonly storage: JetStreamStorage,
    /** Where the controls are stored (and watched). */
    readonly store: QueueControlsStore,
  ) {}

  /** The commands of a storage, on its config bucket. */
  static async open(storage: JetStreamStorage): Promise<QueueControlCommands> {
    return new QueueControlCommands(storage, new QueueControlsStore(await storage.configBucket()));
  }

  /** The controls of a queue. @throws NotFoundError (`queue_not_found`) */
  async get(queue: string): Promise<QueueControls> {
    await this.storage.getQueue(queue);
    return this.store.get(queue);
  }

  /** Pauses a queue (kept until resumed). @throws NotFoundError (`queue_not_found`) */
  async pause(queue: string): Promise<QueueControls> {
    await this.storage.getQueue(queue);
    const c = await this.store.update(queue, (cur) => ({ ...cur, paused: cur.paused ?? { at: Date.now() } }));
    this.storage.publishQueueEvent(queue, "paused");
    return c;
  }

  /** Resumes a queue, ending a pause and any hold. @throws NotFoundError (`queue_not_found`) */
  async resume(queue: string): Promise<QueueControls> {
    await this.storage.getQueue(queue);
    const c = await this.store.update(queue, ({ paused: _p, holdUntil: _h, ...rest }) => rest);
    this.storage.publishQueueEvent(queue, "resumed");
    return c;
  }

  /**
   * Sets (or with `null` removes) the queue's rate limit.
   * @throws ValidationError (`invalid_rate_limit`), NotFoundError (`queue_not_found`)
   */
  async setRateLimit(queue: string, limit: RateLimit | null): Promise<QueueControls> {
    const rl = limit === null ? undefined : validateRateLimit(limit);
    await this.storage.getQueue(queue);
    const c = await this.store.update(queue, ({ rateLimit: _r, ...rest }) => (rl ? { ...rest, rateLimit: rl } : rest));
    this.storage.publishQueueEvent(queue, "rate_limit_changed", { detail: rl ? { ...rl } : { limit: null } });
    return c;
  }

  /** Holds a queue back until `until` (epoch ms) and publishes a `held` event. */
  async hold(queue: string, until: number): Promise<QueueControls> {
    const c = await this.store.update(queue, (cur) => ({ ...cur, holdUntil: Math.max(cur.holdUntil ?? 0, until) }));
    this.storage.publishQueueEvent(queue, "held", { detail: { until: new Date(until).toISOString() } });
    return c;
  }
}
