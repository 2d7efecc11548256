import { JetqError } from "../errors.js";

/**
 * Throw from a handler to fail the task for good: no further tries, state `terminated`.
 * Use it for work that can never succeed (bad input, a deleted account).
 */
export class TerminateTask extends JetqError {
  constructor(message = "task terminated by handler", options?: ErrorOptions) {
    super("terminate_task", message, options);
  }
}

/** The router has no handler for a task's type; the try fails and the task is retried later. */
export class NoHandlerError extends JetqError {
  constructor(type: string) {
    super("no_handler", `no handler for task type ${JSON.stringify(type)}`);
  }
}

/** A handler ran past the queue's max run time and was aborted. */
export class RunTimeExceededError extends JetqError {
  constructor(ms: number) {
    super("run_time_exceeded", `handler exceeded the max run time of ${ms} ms`);
  }
}

/**
 * Throw from a handler when a downstream service is rate limiting you: the task is tried again
 * after `delayMs` WITHOUT using up a try. With `holdQueue`, every worker of the queue (in every
 * process) also takes no new work from it until then.
 */
export class RateLimitError extends JetqError {
  /** How long to wait, ms. */
  readonly delayMs: number;
  /** Hold the whole queue back for `delayMs`, not only this task. */
  readonly holdQueue: boolean;

  constructor(delayMs: number, opts: { holdQueue?: boolean; message?: string } = {}) {
    super("rate_limited", opts.message ?? `rate limited; retrying in ${delayMs} ms`);
    this.delayMs = Number.isFinite(delayMs) && delayMs > 0 ? Math.round(delayMs) : 1000;
    this.holdQueue = opts.holdQueue ?? false;
  }
}

/** The reason a running task's `AbortSignal` fires when someone cancels the task (`cancelTask`). */
export class TaskCancelledError extends JetqError {
  constructor(taskId: string) {
    super("task_cancelled", `task ${taskId} was cancelled`);
  }
}
