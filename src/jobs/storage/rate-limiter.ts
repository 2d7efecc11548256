import type { KV } from "@nats-io/kv";
import { wrapStorage } from "../../nats/streams.js";
import type { RateLimit } from "./queue-controls-store.js";

/** The answer to {@link RateLimiter.take}. */
export interface Grant {
  /** Tasks that may start now (0 to the number asked for). */
  granted: number;
  /** End of the current window (epoch ms): granted starts lapse then, and new budget begins. */
  windowEnd: number;
}

/** What the limiter stores per queue: the window (its index since the epoch) and the starts used in it. */
interface WindowUse {
  w: number;
  n: number;
}

/**
 * A queue-wide rate limit shared by every consumer of every process: at most `limit` task starts
 * in each fixed window of `intervalMs` (windows aligned to the epoch, as in BullMQ), counted in one
 * KV key per queue. Consumers take budget in batches (one read and one revision-checked write per
 * batch), so a busy queue costs a round trip per batch, not per task. As with any fixed window, up
 * to twice the limit can start around a window boundary. The hosts' clocks should agree to within a
 * small part of the interval (NTP is plenty).
 */
export class RateLimiter {
  /** @param kv the storage's `rates` bucket. */
  constructor(private readonly kv: KV) {}

  /** Takes up to `want` starts from `queue`'s budget in the current window under `limit`. */
  async take(queue: string, limit: RateLimit, want: number): Promise<Grant> {
    for (let attempt = 0; ; attempt++) {
      const now = Date.now();
      const w = Math.floor(now / limit.intervalMs);
      const windowEnd = (w + 1) * limit.intervalMs;
      const entry = await this.kv.get(queue);
      const stored = entry?.operation === "PUT" ? (entry.json<WindowUse>() as Partial<WindowUse>) : undefined;
      const used = stored?.w === w && Number.isInteger(stored.n) ? (stored.n as number) : 0;
      const granted = Math.max(0, Math.min(want, limit.limit - used));
      if (granted === 0) return { granted, windowEnd };
      try {
        const next = JSON.stringify({ w, n: used + granted } satisfies WindowUse);
        if (entry) await this.kv.update(queue, next, entry.revision);
        else await this.kv.create(queue, next);
        return { granted, windowEnd };
      } catch (err) {
        // Another consumer took budget meanwhile: read again (bounded, with a little jitter).
        if (attempt >= 20) throw wrapStorage(err, `taking from the rate limit of queue ${queue}`);
        await new Promise((r) => setTimeout(r, Math.random() * 3 * (attempt + 1)));
      }
    }
  }
}
