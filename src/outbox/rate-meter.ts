/**
 * Counts events in one-second buckets and reports their rate per second over a sliding window.
 */
export class RateMeter {
  private readonly buckets: number[];
  private readonly started: number;
  private head = 0;
  private headSecond: number;

  /**
   * @param windowSeconds length of the sliding window. @defaultValue 5
   * @param clock ms clock. @defaultValue `Date.now`
   */
  constructor(
    private readonly windowSeconds = 5,
    private readonly clock: () => number = Date.now,
  ) {
    this.buckets = new Array<number>(windowSeconds + 1).fill(0);
    this.started = clock();
    this.headSecond = Math.floor(this.started / 1000);
  }

  private advance(now: number): void {
    const second = Math.floor(now / 1000);
    const steps = Math.min(second - this.headSecond, this.buckets.length);
    for (let i = 0; i < steps; i++) {
      this.head = (this.head + 1) % this.buckets.length;
      this.buckets[this.head] = 0;
    }
    if (second > this.headSecond) this.headSecond = second;
  }

  /** Counts `n` events now. */
  add(n = 1): void {
    this.advance(this.clock());
    this.buckets[this.head] = (this.buckets[this.head] ?? 0) + n;
  }

  /** Events per second over the last `windowSeconds` (or since creation, if shorter). */
  perSecond(): number {
    const now = this.clock();
    this.advance(now);
    let sum = 0;
    for (const b of this.buckets) sum += b;
    // The buckets cover the current partial second plus `windowSeconds` full ones.
    const covered = Math.min(this.windowSeconds + (now % 1000) / 1000, (now - this.started) / 1000);
    return covered > 0 ? sum / Math.max(covered, 0.001) : 0;
  }
}
