import { nuid } from "@nats-io/nuid";
import { ValidationError } from "../errors.js";
import { isoTime } from "../iso-time.js";
import { DEFAULT_PRIORITY } from "./storage/layout.js";
import { isFinalState, type Task, TaskState } from "./task.js";

/** Event type of {@link TaskStateEvent}. */
export const TASK_STATE_EVENT = "jetq.v1.task_state";

/** Fields every event has. */
export interface BaseEvent {
  /** Unique id of this event. */
  eventId: string;
  /** Event type, e.g. {@link TASK_STATE_EVENT}. */
  type: string;
  /** When it happened, epoch ms. */
  timestamp: number;
}

/**
 * Published on `jetq.ev.task.<queue>.<step|final>.<state>` for every state change of a task;
 * the one into a final state (`final: true`) is the task's outcome event.
 */
export interface TaskStateEvent extends BaseEvent {
  type: typeof TASK_STATE_EVENT;
  taskId: string;
  state: TaskState;
  /** True for the change into a final state: the task's one outcome event. */
  final: boolean;
  tries: number;
  queue: string;
  taskType: string;
  /** The task's priority level (0 most urgent – 9). */
  priority: number;
  /** Error behind this change, for failures. */
  lastError?: string;
  /** Time since the task was created, ms. */
  ageMs: number;
}

/** Event type of {@link TaskProgressEvent}. */
export const TASK_PROGRESS_EVENT = "jetq.v1.task_progress";
/** Event type of {@link TaskLogEvent}. */
export const TASK_LOG_EVENT = "jetq.v1.task_log";
/** Event type of {@link QueueEvent}. */
export const QUEUE_EVENT = "jetq.v1.queue";

/** A running task's handler reported progress; on `jetq.ev.progress.<queue>`. */
export interface TaskProgressEvent extends BaseEvent {
  type: typeof TASK_PROGRESS_EVENT;
  taskId: string;
  queue: string;
  taskType: string;
  /** What the handler reported: a number or any JSON value. */
  progress: unknown;
}

/** A running task's handler appended a log line; on `jetq.ev.log.<queue>`. */
export interface TaskLogEvent extends BaseEvent {
  type: typeof TASK_LOG_EVENT;
  taskId: string;
  queue: string;
  taskType: string;
  line: string;
}

/**
 * Every {@link QueueAction}: `paused` (workers stopped taking new work), `resumed`, `held` (a handler
 * held the whole queue back for a while: `RateLimitError` with `holdQueue`), `rate_limited` (a
 * handler postponed its task without using up a try), `rate_limit_changed`, `dead_lettered` (a task
 * that failed for good was put in the dead-letter store), `redriven` (a dead letter was put back in
 * the queue), `dead_letters_purged` (removed without a redrive, `detail.count`), `deduplicated` (an
 * enqueue was answered with an existing task through an idempotency key).
 */
export const QUEUE_ACTIONS = [
  "paused",
  "resumed",
  "held",
  "rate_limited",
  "rate_limit_changed",
  "dead_lettered",
  "redriven",
  "dead_letters_purged",
  "deduplicated",
] as const;

/** What happened to a queue in a {@link QueueEvent}: one of {@link QUEUE_ACTIONS}. */
export type QueueAction = (typeof QUEUE_ACTIONS)[number];

/** Something happened to a queue; on `jetq.ev.queue.<queue>.<action>`. */
export interface QueueEvent extends BaseEvent {
  type: typeof QUEUE_EVENT;
  queue: string;
  action: QueueAction;
  /** The task concerned, for task-related actions. */
  taskId?: string;
  /** Action-specific details (e.g. `{ until }` for `held`, `{ reason }` for `dead_lettered` and `redriven`). */
  detail?: Record<string, unknown>;
}

/** Any event jetq publishes. */
export type JetqEvent = TaskStateEvent | TaskProgressEvent | TaskLogEvent | QueueEvent;

const eventHead = (type: string, now: number) =>
  `{"event_id":"${nuid.next()}","type":"${type}","timestamp":"${isoTime(now)}"`;

/** A running task's event carrying one more JSON field (progress or log line). */
function taskReportEvent(type: string, task: Task, field: string, value: unknown, now: number): Uint8Array {
  return Buffer.from(
    `${eventHead(type, now)},"task_id":"${task.id}","queue":"${task.queue}",` +
      `"task_type":"${task.type}","${field}":${JSON.stringify(value ?? null)}}`,
  );
}

/** Serialises a progress event (snake_case wire form). */
export function encodeProgressEvent(task: Task, progress: unknown, now = Date.now()): Uint8Array {
  return taskReportEvent(TASK_PROGRESS_EVENT, task, "progress", progress, now);
}

/** Serialises a log-line event (snake_case wire form). */
export function encodeLogEvent(task: Task, line: string, now = Date.now()): Uint8Array {
  return taskReportEvent(TASK_LOG_EVENT, task, "line", line, now);
}

/** Serialises a queue event (snake_case wire form). */
export function encodeQueueEvent(
  queue: string,
  action: QueueAction,
  extra: { taskId?: string; detail?: Record<string, unknown> } = {},
  now = Date.now(),
): Uint8Array {
  const task = extra.taskId === undefined ? "" : `,"task_id":"${extra.taskId}"`;
  const detail = extra.detail === undefined ? "" : `,"detail":${JSON.stringify(extra.detail)}`;
  return Buffer.from(`${eventHead(QUEUE_EVENT, now)},"queue":"${queue}","action":"${action}"${task}${detail}}`);
}

/** Serialises the event of a task's current state to its JSON wire form (snake_case, ISO timestamp). */
export function encodeTaskEvent(task: Task, now = Date.now()): Uint8Array {
  // Written out by hand: this runs for every transition of every task. Ids, types, queue names and
  // states are validated names (no characters JSON must escape); the error text goes through stringify.
  const lastError = task.lastError === undefined ? "" : `,"last_error":${JSON.stringify(task.lastError)}`;
  return Buffer.from(
    `${eventHead(TASK_STATE_EVENT, now)},` +
      `"task_id":"${task.id}","state":"${task.state}","final":${isFinalState(task.state)},"tries":${task.tries},` +
      `"queue":"${task.queue}","task_type":"${task.type}","priority":${task.priority}${lastError},"task_age":${Math.max(0, now - task.createdAt)}}`,
  );
}

const STATES = new Set<string>(Object.values(TaskState));
const KNOWN_ACTIONS = new Set<string>(QUEUE_ACTIONS);

function invalid(why: string): never {
  throw new ValidationError("invalid_event", why);
}

/**
 * Parses an event published by jetq.
 * @throws ValidationError (`invalid_event` or `unknown_event_type`)
 */
export function parseEvent(data: Uint8Array | string): JetqEvent {
  let w: Record<string, unknown>;
  try {
    w = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  } catch {
    return invalid("event is not JSON");
  }
  if (typeof w !== "object" || w === null) invalid("event is not an object");
  const timestamp = Date.parse(String(w.timestamp));
  if (!Number.isFinite(timestamp)) invalid("event has no valid timestamp");
  const base = { eventId: String(w.event_id), timestamp };
  switch (w.type) {
    case TASK_STATE_EVENT:
      if (typeof w.task_id !== "string" || typeof w.state !== "string" || !STATES.has(w.state)) {
        invalid("event is missing task_id or state");
      }
      return {
        ...base,
        type: TASK_STATE_EVENT,
        taskId: w.task_id,
        state: w.state as TaskState,
        final: w.final === true,
        tries: Number(w.tries) || 0,
        queue: String(w.queue ?? ""),
        taskType: String(w.task_type ?? ""),
        priority: Number.isInteger(w.priority) ? (w.priority as number) : DEFAULT_PRIORITY,
        ageMs: Number(w.task_age) || 0,
        ...(typeof w.last_error === "string" ? { lastError: w.last_error } : {}),
      };
    case TASK_PROGRESS_EVENT:
    case TASK_LOG_EVENT: {
      if (typeof w.task_id !== "string") invalid("event is missing task_id");
      const common = { ...base, taskId: w.task_id, queue: String(w.queue ?? ""), taskType: String(w.task_type ?? "") };
      if (w.type === TASK_PROGRESS_EVENT) return { ...common, type: TASK_PROGRESS_EVENT, progress: w.progress };
      if (typeof w.line !== "string") invalid("log event is missing line");
      return { ...common, type: TASK_LOG_EVENT, line: w.line };
    }
    case QUEUE_EVENT:
      if (typeof w.queue !== "string" || typeof w.action !== "string" || !KNOWN_ACTIONS.has(w.action)) {
        invalid("queue event is missing queue or action");
      }
      return {
        ...base,
        type: QUEUE_EVENT,
        queue: w.queue,
        action: w.action as QueueAction,
        ...(typeof w.task_id === "string" ? { taskId: w.task_id } : {}),
        ...(typeof w.detail === "object" && w.detail !== null ? { detail: w.detail as Record<string, unknown> } : {}),
      };
    default:
      throw new ValidationError("unknown_event_type", `unknown event type ${JSON.stringify(w.type)}`);
  }
}

/**
 * Parses a task state event.
 * @throws ValidationError (`invalid_event`, `unknown_event_type`) also for other kinds of events.
 */
export function parseTaskStateEvent(data: Uint8Array | string): TaskStateEvent {
  const e = parseEvent(data);
  if (e.type !== TASK_STATE_EVENT) throw new ValidationError("unknown_event_type", `not a task state event: ${e.type}`);
  return e;
}
