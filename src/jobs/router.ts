import { ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { NoHandlerError } from "./handler-errors.js";
import { validateTaskType } from "./names.js";
import type { Task } from "./task.js";

/**
 * What a handler gets besides the task. Its members but `runDeadline` are accessors (the logger and
 * the signal are made on first use), so a middleware passes `ctx` on as it is, or derives one with
 * `Object.create(ctx, …)`: spreading it (`{ ...ctx }`) copies only `runDeadline`. Destructuring
 * works (`async (task, { signal, progress }) => …`).
 */
export interface HandlerContext {
  /** A logger with the task id and type attached. */
  log: Logger;
  /**
   * Fires when the run time is exceeded, the task is cancelled (reason: `TaskCancelledError`) or
   * the worker shuts down hard; stop work when it does.
   */
  signal: AbortSignal;
  /** Epoch ms by which the handler must finish (start + the queue's max run time). */
  runDeadline: number;
  /**
   * Reports progress (a number such as a percentage, or any JSON value): stored in the task's
   * record (visible to `loadTask` and the REST API) and published as a progress event. Each call
   * is one write: report a few times per second at most. Resolves once stored.
   */
  progress(value: unknown): Promise<void>;
  /**
   * Appends a line to the task's log (kept with the task, read with `loadTask(id, { logs: true })`
   * or the REST API) and publishes it as a log event. Resolves once stored.
   */
  appendLog(line: string): Promise<void>;
}

/**
 * Handles one task; what it returns (JSON-serialisable) becomes the task's result. `P` types the
 * task's payload and `R` the result, e.g. `Handler<Email, Sent>`; both default to `unknown`.
 */
export type Handler<P = unknown, R = unknown> = (task: Task<P, R>, ctx: HandlerContext) => R | Promise<R>;

/** Wraps a handler with cross-cutting behaviour; call `next` to continue the chain. */
export type Middleware = (next: Handler) => Handler;

/** Composes middleware so that `chain(a, b)(h)` is `a(b(h))`: the first runs outermost. */
export function chain(...mws: Middleware[]): Middleware {
  for (const mw of mws)
    if (typeof mw !== "function") throw new ValidationError("invalid_middleware", "middleware must be a function");
  return (h) => mws.reduceRight<Handler>((next, mw) => mw(next), h);
}

/**
 * Routes tasks to handlers by exact task type. Middleware registered with {@link use} wraps every
 * route (outermost first) and wraps the per-route middleware given to {@link handle}.
 */
export class Router {
  private readonly routes = new Map<string, { handler: Handler; mws: Middleware[] }>();
  private readonly global: Middleware[] = [];
  private resolved = new Map<string, Handler>();

  /**
   * Registers `handler` for `type`, optionally wrapped in per-route middleware. Type the payload and
   * result with `handle<Email, Sent>("email:send", async (task) => …)`, or by annotating the handler's
   * `task` parameter (`async (task: Task<Email>) => …`). jetq does not check payloads at run time:
   * validate them in the handler (or a middleware) when producers may send anything.
   * @throws ValidationError for an invalid type, a duplicate route (`duplicate_handler`) or bad middleware.
   */
  handle<P = unknown, R = unknown>(type: string, handler: Handler<P, R>, ...middleware: Middleware[]): this {
    validateTaskType(type);
    if (this.routes.has(type))
      throw new ValidationError("duplicate_handler", `a handler for ${JSON.stringify(type)} is already registered`);
    chain(...middleware);
    // Stored untyped: a route receives whatever task of its type was enqueued.
    this.routes.set(type, { handler: handler as unknown as Handler, mws: middleware });
    this.resolved = new Map();
    return this;
  }

  /** Adds middleware applied to every route, including routes registered earlier. */
  use(...middleware: Middleware[]): this {
    chain(...middleware);
    this.global.push(...middleware);
    this.resolved = new Map();
    return this;
  }

  /** Task types with a handler. */
  types(): string[] {
    return [...this.routes.keys()];
  }

  /** The fully wrapped handler for a task; an unrouted type gets one that throws {@link NoHandlerError}. */
  handlerFor(type: string): Handler {
    let h = this.resolved.get(type);
    if (!h) {
      const route = this.routes.get(type);
      if (!route) {
        return () => {
          throw new NoHandlerError(type);
        };
      }
      h = chain(...this.global, ...route.mws)(route.handler);
      this.resolved.set(type, h);
    }
    return h;
  }
}
