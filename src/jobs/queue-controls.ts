import type { KV } from "@nats-io/kv";
import { ValidationError } from "../errors.js";
import { updateKey } from "../nats/buckets.js";
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
   * Calls `apply` with the queue's current controls and again after every change, until `stop()`.
   * Resolves once the current value has been applied.
   */
  async watch(queue: string, apply: (c: QueueControls) => void): Promise<{ stop(): void }> {
    apply(await this.get(queue));
    const w = await this.kv.watch({ key: queueControlsKey(queue) });
    void (async () => {
      for await (const e of w) apply(e.operation === "PUT" ? parseControls(e.json()) : {});
    })().catch(() => undefined); // the watch ends with the connection
    return { stop: () => w.stop() };
  }
}
