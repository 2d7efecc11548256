import type { Logger } from "../logger.js";
import type { Middleware } from "./router.js";

/** Logs each handled task at debug level on success and warn on failure, with its duration. */
export function loggingMiddleware(): Middleware {
  return (next) => async (task, ctx) => {
    const t0 = performance.now();
    try {
      const r = await next(task, ctx);
      ctx.log.debug("task handled", { ms: Math.round(performance.now() - t0), tries: task.tries });
      return r;
    } catch (err) {
      ctx.log.warn("task failed", {
        ms: Math.round(performance.now() - t0),
        tries: task.tries,
        error: (err as Error)?.message ?? String(err),
      });
      throw err;
    }
  };
}

/**
 * Turns anything a handler throws (including non-Error values and synchronous throws) into an
 * `Error` that fails the try, logging its stack, so a misbehaving handler can never take the
 * worker down with it.
 */
export function recoveryMiddleware(log?: Logger): Middleware {
  return (next) => async (task, ctx) => {
    try {
      return await next(task, ctx);
    } catch (err) {
      if (err instanceof Error) throw err;
      const wrapped = new Error(`handler threw a non-error value: ${String(err)}`);
      (log ?? ctx.log).error("handler threw a non-error value", { value: String(err) });
      throw wrapped;
    }
  };
}
