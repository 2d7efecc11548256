import { nuid } from "@nats-io/nuid";
import { ValidationError } from "../errors.js";
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
  /** Error behind this change, for failures. */
  lastError?: string;
  /** Time since the task was created, ms. */
  ageMs: number;
}

/** Any event jetq publishes about tasks. */
export type JetqEvent = TaskStateEvent;

/** Serialises the event of a task's current state to its JSON wire form (snake_case, ISO timestamp). */
export function encodeTaskEvent(task: Task, now = Date.now()): Uint8Array {
  // Written out by hand: this runs for every transition of every task. Ids, types, queue names and
  // states are validated names (no characters JSON must escape); the error text goes through stringify.
  const lastError = task.lastError === undefined ? "" : `,"last_error":${JSON.stringify(task.lastError)}`;
  return Buffer.from(
    `{"event_id":"${nuid.next()}","type":"${TASK_STATE_EVENT}","timestamp":"${new Date(now).toISOString()}",` +
      `"task_id":"${task.id}","state":"${task.state}","final":${isFinalState(task.state)},"tries":${task.tries},` +
      `"queue":"${task.queue}","task_type":"${task.type}"${lastError},"task_age":${Math.max(0, now - task.createdAt)}}`,
  );
}

const STATES = new Set<string>(Object.values(TaskState));

/**
 * Parses an event published by jetq.
 * @throws ValidationError (`invalid_event` or `unknown_event_type`)
 */
export function parseEvent(data: Uint8Array | string): JetqEvent {
  let w: Record<string, unknown>;
  try {
    w = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  } catch {
    throw new ValidationError("invalid_event", "event is not JSON");
  }
  if (typeof w !== "object" || w === null) throw new ValidationError("invalid_event", "event is not an object");
  if (w.type !== TASK_STATE_EVENT)
    throw new ValidationError("unknown_event_type", `unknown event type ${JSON.stringify(w.type)}`);
  const timestamp = Date.parse(String(w.timestamp));
  if (
    typeof w.task_id !== "string" ||
    typeof w.state !== "string" ||
    !STATES.has(w.state) ||
    !Number.isFinite(timestamp)
  ) {
    throw new ValidationError("invalid_event", "event is missing task_id, state or timestamp");
  }
  return {
    eventId: String(w.event_id),
    type: TASK_STATE_EVENT,
    timestamp,
    taskId: w.task_id,
    state: w.state as TaskState,
    final: w.final === true,
    tries: Number(w.tries) || 0,
    queue: String(w.queue ?? ""),
    taskType: String(w.task_type ?? ""),
    ageMs: Number(w.task_age) || 0,
    ...(typeof w.last_error === "string" ? { lastError: w.last_error } : {}),
  };
}
