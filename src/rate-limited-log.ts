import type { LogFields, Logger } from "./logger.js";

/**
 * Logs bad input at most once per reason per interval, then a count of what it held back, so a
 * flood of garbage cannot flood the log (or slow the process down with logging).
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  /** @param intervalMs quiet time per reason after a line is written. @defaultValue 10_000 */
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs a warning for `reason` unless one was logged within the interval. */
  warn(reason: string, msg: string, fields: LogFields = {}): void {
    const t = this.now();
    const seen = this.last.get(reason);
    if (seen && t - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.last.set(reason, { at: t, suppressed: 0 });
    this.log.warn(msg, { reason, ...fields, ...(suppressed > 0 ? { suppressed } : {}) });
  }
}
