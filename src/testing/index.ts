/**
 * jetq/testing — helpers for testing your own handlers: {@link runHandler} calls a handler (or a
 * router's route, middleware included) with a built context, no NATS needed; `NatsServerLauncher`
 * starts a real nats-server for integration tests (docs/testing.md).
 */
import { ValidationError } from "../errors.js";
import type { Handler, HandlerContext, Router } from "../jobs/router.js";
import { type NewTaskOptions, newTask, type Task, TaskState } from "../jobs/task.js";
import type { LogFields, Logger } from "../logger.js";

export { NatsCluster, NatsServerLauncher, type NatsServerOptions } from "../nats/nats-server-launcher.js";

/** A log line a handler wrote through `ctx.log` during {@link runHandler}. */
export interface LoggedLine {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: LogFields;
}

/** What a handler did in {@link runHandler}. */
export interface HandlerRun<R> {
  /** What the handler returned. */
  result: R;
  /** Every value passed to `ctx.progress`, in order. */
  progress: unknown[];
  /** Every line passed to `ctx.appendLog`, in order. */
  logs: string[];
  /** Every line written through `ctx.log`. */
  logged: LoggedLine[];
  /** The task as the handler saw it. */
  task: Task;
}

/** Options of {@link runHandler}. */
export interface RunHandlerOptions {
  /** The run time: `ctx.signal` fires after it (as a worker's does). @defaultValue 3_600_000 ms (the queue default) */
  maxRunTimeMs?: number;
  /** Abort `ctx.signal` when this signal aborts (to test cancellation). */
  signal?: AbortSignal;
  /** The queue the task seems to come from. @defaultValue `"test"` */
  queue?: string;
  /** Options of the task built from `{ type, payload }`. */
  task?: NewTaskOptions;
}

function memoryLog(lines: LoggedLine[], base: LogFields): Logger {
  const at = (level: LoggedLine["level"]) => (msg: string, fields?: LogFields) =>
    lines.push({ level, msg, fields: { ...base, ...fields } });
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (f) => memoryLog(lines, { ...base, ...f }),
  };
}

/**
 * Calls a handler — or the route of `router` for the task's type, with its middleware — the way a
 * worker would: the task in state `active` on its first try, a context whose `progress` and
 * `appendLog` are recorded, `log` captured, and `signal` fired when the run time ends or
 * `opts.signal` aborts. Resolves with the result and what was recorded; rejects with what the
 * handler threw (e.g. `TerminateTask`), unchanged.
 *
 * ```ts
 * const run = await runHandler(router, { type: "email:send", payload: { to: "a@example.net" } });
 * assert.equal(run.result.messageId, "…");
 * ```
 */
export async function runHandler<P, R>(
  handler: Handler<P, R> | Router,
  task: Task<P> | { type: string; payload: P },
  opts: RunHandlerOptions = {},
): Promise<HandlerRun<R>> {
  const t: Task<P> = "id" in task ? { ...task } : newTask(task.type, task.payload, opts.task);
  t.queue ||= opts.queue ?? "test";
  t.state = TaskState.Active;
  t.tries = Math.max(1, t.tries + 1);
  t.lastTriedAt = Date.now();
  const fn = (typeof handler === "function" ? handler : handler.handlerFor(t.type)) as Handler<P, R>;
  const maxRunTimeMs = opts.maxRunTimeMs ?? 3_600_000;
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new Error(`run time of ${maxRunTimeMs} ms exceeded`)),
    Math.min(maxRunTimeMs, 2 ** 31 - 1),
  );
  const onAbort = () => ac.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const run: Omit<HandlerRun<R>, "result"> = { progress: [], logs: [], logged: [], task: t };
  const ctx: HandlerContext = {
    log: memoryLog(run.logged, { task: t.id, type: t.type }),
    signal: ac.signal,
    runDeadline: t.lastTriedAt + maxRunTimeMs,
    progress: async (value) => {
      try {
        JSON.stringify(value); // a worker refuses what it cannot store, as this does
      } catch (err) {
        throw new ValidationError("invalid_progress", `progress must be JSON-serialisable: ${(err as Error).message}`);
      }
      run.progress.push(value);
    },
    appendLog: async (line) => {
      run.logs.push(line);
    },
  };
  try {
    return { ...run, result: await fn(t as Task<P, R>, ctx) };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}
