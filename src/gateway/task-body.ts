/**
 * A task as the REST API takes it (`POST /v1/queues/{queue}/tasks`, one line of
 * `jetq task add --bulk`): validated with the `TaskBody` schema and turned into a task.
 */
import type { z } from "@hono/zod-openapi";
import type { DedupeOptions } from "../jobs/idempotency.js";
import { type NewTaskOptions, newTask, type Task } from "../jobs/task.js";
import { cleanTraceContext } from "../jobs/tracing.js";
import { RFC3339 } from "../scheduler/when.js";
import { checkTime } from "../time-range.js";
import { badRequest } from "./http-errors.js";
import type { TaskBody } from "./schemas.js";
import { runAtOptions } from "./task-controls.js";

type Body = z.infer<typeof TaskBody>;

function deadlineOf(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = typeof v === "number" ? v : RFC3339.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms))
    throw badRequest(
      "invalid_deadline",
      "deadline must be an RFC 3339 time (with seconds and zone) or epoch milliseconds",
    );
  return checkTime(ms, "deadline", "invalid_deadline");
}

function payloadOf(body: Body): unknown {
  if (body.payload_b64 === undefined) return body.payload ?? null;
  if (body.payload !== undefined) throw badRequest("invalid_request", "give payload or payload_b64, not both");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.payload_b64))
    throw badRequest("invalid_request", "payload_b64 is not base64");
  return new Uint8Array(Buffer.from(body.payload_b64, "base64"));
}

/**
 * The task a validated body describes (nothing written yet).
 * @throws HttpError 400 (`invalid_deadline`, `invalid_run_at`, `invalid_request`), ValidationError from `newTask`
 */
export function taskFromBody(b: Body): Task {
  const opts: NewTaskOptions = {};
  if (b.id !== undefined) opts.id = b.id;
  const deadline = deadlineOf(b.deadline);
  if (deadline !== undefined) opts.deadline = deadline;
  if (b.max_tries !== undefined) opts.maxTries = b.max_tries;
  if (b.priority !== undefined) opts.priority = b.priority;
  return newTask(b.type, payloadOf(b), { ...opts, ...runAtOptions(b) });
}

/** The idempotency options of a body's `dedupe`, in the library's form. */
export function dedupeOf(b: Body): DedupeOptions | undefined {
  if (!b.dedupe) return undefined;
  return { key: b.dedupe.key, windowMs: b.dedupe.window_ms, ...(b.dedupe.mode ? { mode: b.dedupe.mode } : {}) };
}

/**
 * The caller's W3C trace context, from the request's `traceparent` and `tracestate` headers, to
 * carry in the task it enqueues (docs/tracing.md); undefined when absent or malformed.
 */
export function callerTraceContext(header: (name: string) => string | undefined): Record<string, string> | undefined {
  return cleanTraceContext({ traceparent: header("traceparent"), tracestate: header("tracestate") });
}
