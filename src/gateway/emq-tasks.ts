/**
 * How emq's tasks map onto jetq tasks (docs/http.md, "emq ↔ jetq"):
 * - `content` ↔ `task.payload` (unchanged, so a library worker sees the content as the payload);
 * - every task created by `POST /enqueue/<queue>` has type {@link EMQ_TASK_TYPE};
 * - `expiry` ↔ `task.deadline` (now + expiry; default 1 day);
 * - `retry` ↔ the per-dispatch timeout of HTTP consumers. jetq's own run-time limit is the queue's
 *   `maxRunTimeMs`, the default; an explicit `retry` has no place in the task record, so it travels
 *   in the task id as a `:r<ms>` suffix that the gateway reads back at dispatch (ids stay opaque,
 *   valid jetq ids).
 */
import { newId } from "../jobs/id.js";
import type { QueueConfig } from "../jobs/queue.js";
import type { Task } from "../jobs/task.js";

/** Task type of tasks enqueued through the emq endpoints; route it in a library worker to process them. */
export const EMQ_TASK_TYPE = "emq";

/** emq's default `expiry`: 1 day. */
export const DEFAULT_EXPIRY_MS = 86_400_000;

/**
 * Settings of queues created implicitly by `POST /enqueue/<queue>` (emq creates queues on first
 * use): jetq's defaults, except a max run time of 5 minutes, emq's default `retry`.
 */
export const EMQ_QUEUE_DEFAULTS: Omit<QueueConfig, "name"> = { maxRunTimeMs: 300_000 };

const RETRY_SUFFIX = /:r(\d{1,12})$/;

/** A new task id for an emq task; `retryMs` (when given) is carried as a `:r<ms>` suffix. */
export function emqTaskId(retryMs?: number): string {
  return retryMs === undefined ? newId() : `${newId()}:r${retryMs}`;
}

/** The explicit per-dispatch timeout of an emq task, or undefined (then the queue's max run time applies). */
export function emqRetryMs(task: Task): number | undefined {
  if (task.type !== EMQ_TASK_TYPE) return undefined;
  const m = RETRY_SUFFIX.exec(task.id);
  return m ? Number(m[1]) : undefined;
}

/**
 * A task as emq shows it: `{id, content}`; a binary payload is `content: null` plus `content_b64`.
 * A traced task adds its `trace_context` (docs/tracing.md), which emq clients ignore.
 */
export interface EmqTaskView {
  id: string;
  content: unknown;
  content_b64?: string;
  trace_context?: Record<string, string>;
}

/** The emq view of a task. */
export function emqView(task: Task): EmqTaskView {
  const trace = task.traceContext ? { trace_context: task.traceContext } : {};
  if (task.payload instanceof Uint8Array)
    return { id: task.id, content: null, content_b64: Buffer.from(task.payload).toString("base64"), ...trace };
  return { id: task.id, content: task.payload ?? null, ...trace };
}
