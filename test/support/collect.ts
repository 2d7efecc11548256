import type { Msg, NatsConnection } from "@nats-io/nats-core";

/** Subscribes to `subject` and records every message with its arrival time; `waitFor(n)` resolves at n messages. */
export function collect(nc: NatsConnection, subject: string) {
  const got: { msg: Msg; at: number }[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sub = nc.subscribe(subject, {
    callback: (_err, msg) => {
      got.push({ msg, at: Date.now() });
      for (const w of waiters.filter((w) => got.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
  });
  return {
    got,
    sub,
    /** Resolves once `n` messages have arrived; rejects after `timeoutMs`. */
    waitFor(n: number, timeoutMs = 20_000): Promise<void> {
      if (got.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${got.length}/${n} messages on ${subject} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}
