import { type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { JetqError } from "../../errors.js";
import { clampDelay } from "../../timers.js";
import { TerminateTask } from "../handler-errors.js";
import { validateTaskType } from "../names.js";
import type { Handler } from "../router.js";
import { encodeTask } from "../storage/task-codec.js";

/** Headers of the remote handler protocol (documented in docs/handlers.md). */
export const REMOTE = {
  /** On the request: the body's content type. */
  contentType: "Jetq-Content-Type",
  /** On the request: RFC 3339 time by which the reply must come. */
  deadline: "Jetq-Handler-Deadline",
  /** On a reply: the task failed for good; the value is the reason. */
  terminate: "Jetq-Terminate",
  /** On a reply: this try failed; the value is the error. */
  error: "Jetq-Error",
} as const;

/** Content type of a request body: the task in its JSON wire form. */
export const TASK_CONTENT_TYPE = "application/x-jetq-task+json";

/** Subject a remote handler for `type` listens on by default. */
export function remoteHandlerSubject(type: string): string {
  return `jetq.handler.${validateTaskType(type)}`;
}

/** A remote handler did not answer (no responders, timeout) or the connection failed. */
export class RemoteHandlerError extends JetqError {
  constructor(message: string, options?: ErrorOptions) {
    super("remote_handler_failed", message, options);
  }
}

/**
 * A handler that forwards the task over NATS request/reply to a handler written in any language:
 * the request body is the task (JSON wire form) with a deadline header; a reply with
 * `Jetq-Terminate` terminates the task, one with `Jetq-Error` fails the try, any other reply body
 * becomes the result (parsed as JSON when it is JSON).
 * @param subject where the handler listens. @defaultValue `jetq.handler.<task type>`
 */
export function remoteHandler(nc: NatsConnection, subject?: string): Handler {
  return async (task, ctx) => {
    const timeout = ctx.runDeadline - Date.now();
    if (timeout < 1) throw new RemoteHandlerError("no run time left to call the remote handler");
    const h = natsHeaders();
    h.set(REMOTE.contentType, TASK_CONTENT_TYPE);
    h.set(REMOTE.deadline, new Date(ctx.runDeadline).toISOString());
    const to = subject ?? remoteHandlerSubject(task.type);
    let reply: Awaited<ReturnType<NatsConnection["request"]>>;
    try {
      reply = await nc.request(to, encodeTask(task), { timeout: clampDelay(timeout), headers: h });
    } catch (err) {
      throw new RemoteHandlerError(`remote handler on ${to} did not answer: ${(err as Error).message}`, { cause: err });
    }
    const terminate = reply.headers?.get(REMOTE.terminate);
    if (terminate) throw new TerminateTask(terminate);
    const error = reply.headers?.get(REMOTE.error);
    if (error) throw new JetqError("remote_handler_error", error);
    const text = reply.string();
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
}
