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
