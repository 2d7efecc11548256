import { errorMessage } from "../errors.js";
import type { Logger } from "../logger.js";
import { type Timer, timeoutAt } from "../timers.js";
import type { RateLimit } from "./queue-controls.js";
import type { RateLimiter } from "./storage/rate-limiter.js";

/** Parameters of {@link RateBudget}. */
export interface RateBudgetParams {
  queue: string;
  /** The shared limiter (opened on first need). */
  limiter: () => Promise<RateLimiter>;
  log: Logger;
  /** Called when budget arrives after {@link RateBudget.allows} said no. */
  onReady: () => void;
}

/**
 * One consumer's share of a queue's rate limit: starts taken from the queue-wide {@link RateLimiter}
 * in batches and spent locally. Unspent budget lapses at the end of its window.
 */
export class RateBudget {
  private tokens = 0;
  private until = 0;
  private claiming = false;
  private retry?: Timer;
  private stopped = false;

  constructor(private readonly p: RateBudgetParams) {}

  /**
   * True when one more task may start now under `limit` (always without a limit). Otherwise asks
   * the limiter for up to `want` starts in the background and calls `onReady` when they arrive.
   */
  allows(limit: RateLimit | undefined, want: number): boolean {
    if (!limit) return true;
    if (this.tokens > 0 && Date.now() < this.until) return true;
    this.tokens = 0;
    void this.claim(limit, want);
    return false;
  }

  /** Uses one start (after {@link allows} said yes). */
  spend(): void {
    if (this.tokens > 0) this.tokens--;
  }

  /** Drops unspent budget when the limit changes. */
  limitChanged(before: RateLimit | undefined, after: RateLimit | undefined): void {
    if (before?.limit !== after?.limit || before?.intervalMs !== after?.intervalMs) this.tokens = 0;
  }

  /** Stops asking the limiter. */
  stop(): void {
    this.stopped = true;
    this.retry?.clear();
  }

  private async claim(limit: RateLimit, want: number): Promise<void> {
    if (this.claiming || this.retry || this.stopped) return;
    this.claiming = true;
    let retryAt = 0;
    try {
      const grant = await (await this.p.limiter()).take(this.p.queue, limit, Math.max(1, want));
      this.tokens = grant.granted;
      this.until = grant.windowEnd;
      if (grant.granted === 0) retryAt = grant.windowEnd;
    } catch (err) {
      this.p.log.error("could not take from the queue's rate limit; retrying in 1s", {
        queue: this.p.queue,
        error: errorMessage(err),
      });
      retryAt = Date.now() + 1000;
    } finally {
      this.claiming = false;
    }
    if (this.stopped) return;
    if (retryAt === 0) {
      this.p.onReady();
      return;
    }
    // A window's end can lie far ahead (a limit per month): the timer waits for it in clamped steps.
    this.retry = timeoutAt(() => {
      this.retry = undefined;
      this.p.onReady();
    }, retryAt);
  }
}
