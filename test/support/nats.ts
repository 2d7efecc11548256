import { after, before } from "node:test";
import { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";

/**
 * Starts a real nats-server (JetStream, free loopback port, temp store) before the tests of the
 * calling file and stops it after them. Other top-level `before` hooks of the file may run
 * concurrently with this one: they should `await handle.ready` first.
 */
export function useNatsServer(): {
  server: NatsServerLauncher;
  ready: Promise<unknown>;
  /** Registers clean-up that must run before the server stops (other top-level `after` hooks may not). */
  beforeStop(fn: () => Promise<unknown>): void;
} {
  const server = new NatsServerLauncher();
  let started!: () => void;
  const cleanups: (() => Promise<unknown>)[] = [];
  const handle = {
    server,
    ready: new Promise<void>((r) => (started = r)),
    beforeStop: (fn: () => Promise<unknown>) => {
      cleanups.push(fn);
    },
  };
  before(async () => {
    await server.start();
    started();
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await server.stop();
  });
  return handle;
}

/**
 * Resolves with the next item of `iter` matching `pred`; rejects after `timeoutMs`.
 * The iterator stays open, so it can be searched again.
 */
export async function firstMatch<T>(iter: AsyncIterator<T>, pred: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no matching item within ${timeoutMs} ms`)), timeoutMs);
  });
  const search = (async () => {
    for (;;) {
      const r = await iter.next();
      if (r.done) throw new Error("stream ended without a matching item");
      if (pred(r.value)) return r.value;
    }
  })();
  try {
    return await Promise.race([search, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise plus its resolve function, for awaiting a callback. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Resolves once `cond()` is true, checking after each macrotask turn (no fixed sleeps);
 * rejects after `timeoutMs`. For state that has no event to await (e.g. a stream's depth).
 */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Collects final-outcome events of one queue from the moment it is called (call it before
 * enqueueing), so `outcome(id)` cannot miss a task that finishes quickly.
 */
export function finalOutcomes(events: AsyncIterator<{ taskId: string }> & { close(): void }) {
  const seen = new Set<string>();
  const waiters = new Map<string, () => void>();
  void (async () => {
    for (;;) {
      const r = await events.next();
      if (r.done) return;
      seen.add(r.value.taskId);
      waiters.get(r.value.taskId)?.();
    }
  })();
  return {
    /** Resolves once the task's final event arrived. */
    async reached(id: string, timeoutMs = 20_000): Promise<void> {
      if (seen.has(id)) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`task ${id} did not finish within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    close: () => events.close(),
  };
}
