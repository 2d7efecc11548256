import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { openBucket } from "../nats/buckets.js";
import { wrapStorage } from "../nats/streams.js";
import type { RateLimit } from "./queue-controls.js";
import { RATE_BUCKET } from "./storage/layout.js";

/** The answer to {@link RateLimiter.take}. */
export interface Grant {
  /** Tasks that may start now (0 to the number asked for). */
  granted: number;
  /** When nothing was granted: the earliest epoch ms at which one task may start. */
  retryAt: number;
}

/**
 * A queue-wide rate limiter shared by every worker of every process: the generic cell rate
 * algorithm (GCRA) over one KV key per queue holding the "theoretical arrival time". Taking `n`
 * tasks is one read and one revision-checked write; workers ask for as many as they can start, so
 * a busy queue costs a round trip per batch, not per task. Clocks of the workers' hosts should agree
 * to within a small part of the interval (NTP is plenty).
 */
export class RateLimiter {
  private constructor(private readonly kv: KV) {}

  /** Opens the limiter's bucket, creating it when missing. */
  static async open(nc: NatsConnection, replicas = 1): Promise<RateLimiter> {
    return new RateLimiter(await openBucket(nc, RATE_BUCKET, { history: 1, replicas }));
  }

  /** Takes up to `want` starts from `queue`'s budget under `limit`. */
  async take(queue: string, limit: RateLimit, want: number, now = Date.now()): Promise<Grant> {
    const emission = limit.intervalMs / limit.limit;
    for (let attempt = 0; ; attempt++) {
      const entry = await this.kv.get(queue);
      const stored = entry?.operation === "PUT" ? Number(entry.string()) : 0;
      const base = Math.max(Number.isFinite(stored) ? stored : 0, now);
      // Up to `limit` starts fit in any window of `intervalMs`: the arrival time may run ahead of
      // now by at most the interval.
      const room = Math.floor((now + limit.intervalMs - base) / emission + 1e-9);
      const granted = Math.max(0, Math.min(want, room));
      if (granted === 0) return { granted, retryAt: Math.ceil(base + emission - limit.intervalMs) };
      try {
        const next = String(base + granted * emission);
        if (entry) await this.kv.update(queue, next, entry.revision);
        else await this.kv.create(queue, next);
        return { granted, retryAt: now };
      } catch (err) {
        if (attempt >= 20) throw wrapStorage(err, `taking from the rate limit of queue ${queue}`);
        await new Promise((r) => setTimeout(r, Math.random() * 3 * (attempt + 1)));
        now = Date.now();
      }
    }
  }
}
