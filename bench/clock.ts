/**
 * The benchmark's clocks. Durations use the monotonic `performance.now()`; due times that cross a
 * process boundary (the Gozo scheduler, BullMQ's `delay`) use the wall clock, `Date.now()`, as
 * those systems do.
 */

/** Monotonic milliseconds (fractional) for measuring durations inside this process. */
export const monoMs = (): number => performance.now();

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once `cond()` is true, checking every `everyMs`; rejects after `timeoutMs` naming `what`.
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 5,
): Promise<void> {
  const end = monoMs() + timeoutMs;
  while (!(await cond())) {
    if (monoMs() > end) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Resolves or rejects like `p`, or rejects after `timeoutMs` naming `what`. */
export async function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise and the function that resolves it. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
