/**
 * Timers that keep their due time however far ahead it lies. Node runs a `setTimeout` or
 * `setInterval` of more than 2^31-1 ms (about 24.8 days) after 1 ms instead, with a
 * `TimeoutOverflowWarning`: a monthly cron or a delayed message 40 days ahead would fire at once,
 * or wake its owner a thousand times a second. A {@link Timer} waits in steps Node accepts and,
 * at the end of every step, asks its clock whether the due time has come: it runs its callback
 * only then, and otherwise waits again. Re-checking also absorbs timers that wake a little early
 * and clocks that were set back.
 */

/** The longest delay Node's timers take as given: 2^31-1 ms (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `ms` limited to what Node's timers take: 0 to {@link MAX_TIMER_MS}, 0 for a negative delay or
 * `NaN`. For repeating or renewing timers (heartbeats, polls, lease renewals), where running
 * earlier than asked is harmless; a timer that must not run early is a {@link Timer}.
 */
export function clampDelay(ms: number): number {
  return ms > 0 ? Math.min(ms, MAX_TIMER_MS) : 0;
}

/** Options of {@link timeoutAt}, {@link timeout} and {@link sleepUntil}. */
export interface TimerOptions {
  /**
   * The clock due times are read on, ms.
   * @defaultValue `Date.now` for due times (epoch ms), `performance.now()` for delays
   */
  clock?: () => number;
}

const monotonic = (): number => performance.now();

/** A pending one-shot timer, made by {@link timeoutAt} or {@link timeout}. */
export class Timer {
  private handle?: NodeJS.Timeout;
  private referenced = true;
  private done = false;

  /**
   * @param fn runs once, when `clock()` reaches `due`.
   * @param due the due time on `clock`.
   */
  constructor(
    private readonly fn: () => void,
    readonly due: number,
    private readonly clock: () => number,
  ) {
    this.step();
  }

  private step(): void {
    this.handle = setTimeout(() => this.wake(), clampDelay(this.due - this.clock()));
    if (!this.referenced) this.handle.unref();
  }

  private wake(): void {
    if (this.done) return;
    if (this.clock() < this.due) {
      this.step();
      return;
    }
    this.done = true;
    this.fn();
  }

  /** True until the callback ran or the timer was cleared. */
  get pending(): boolean {
    return !this.done;
  }

  /** Cancels the timer; nothing happens once it ran. */
  clear(): void {
    this.done = true;
    clearTimeout(this.handle);
  }

  /** Lets the process exit while this timer is pending (as Node's `unref`). */
  unref(): this {
    this.referenced = false;
    this.handle?.unref();
    return this;
  }
}

/** Runs `fn` once `clock()` reaches `due` (epoch ms by default), however far ahead. */
export function timeoutAt(fn: () => void, due: number, opts: TimerOptions = {}): Timer {
  return new Timer(fn, due, opts.clock ?? Date.now);
}

/** Runs `fn` once `delayMs` have passed (on a monotonic clock by default), however long. */
export function timeout(fn: () => void, delayMs: number, opts: TimerOptions = {}): Timer {
  const clock = opts.clock ?? monotonic;
  return new Timer(fn, clock() + delayMs, clock);
}

/**
 * Resolves once `clock()` reaches `due` (epoch ms by default), or as soon as `signal` aborts (it
 * resolves then too: callers check their own state afterwards).
 */
export function sleepUntil(due: number, opts: TimerOptions & { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = opts;
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => {
      timer.clear();
      resolve();
    };
    const timer = timeoutAt(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      due,
      opts,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
