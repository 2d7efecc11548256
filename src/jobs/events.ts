import { ValidationError } from "../errors.js";
import { newId } from "./id.js";
import { isFinalState, type Task, TaskState } from "./task.js";

/** Event type of {@link TaskStateEvent}. */
export const TASK_STATE_EVENT = "jetq.v1.task_state";
/** Event type of {@link TaskFinalEvent}. */
export const TASK_FINAL_EVENT = "jetq.v1.task_final";

/** Fields every event has. */
export interface BaseEvent {
  /** Unique id of this event. */
  eventId: string;
  /** Event type, e.g. {@link TASK_STATE_EVENT}. */
  type: string;
  /** When it happened, epoch ms. */
  timestamp: number;
}

/** Published on `jetq.ev.state.<queue>.<state>` for every state change of a task. */
export interface TaskStateEvent extends BaseEvent {
  type: typeof TASK_STATE_EVENT;
  taskId: string;
  state: TaskState;
  tries: number;
  queue: string;
  taskType: string;
  /** Error behind this change, for failures. */
  lastError?: string;
  /** Time since the task was created, ms. */
  ageMs: number;
}

/** Published once per task on `jetq.ev.final.<queue>.<state>` when it reaches a final state. */
export interface TaskFinalEvent extends Omit<TaskStateEvent, "type"> {
  type: typeof TASK_FINAL_EVENT;
}

/** Any event jetq publishes. */
export type JetqEvent = TaskStateEvent | TaskFinalEvent;

/** Builds the state event for a task's current state (and the final event when that state is final). */
export function taskEvents(task: Task, now = Date.now()): JetqEvent[] {
  const base = {
    eventId: newId(),
    timestamp: now,
    taskId: task.id,
    state: task.state,
    tries: task.tries,
    queue: task.queue,
    taskType: task.type,
    ageMs: Math.max(0, now - task.createdAt),
    ...(task.lastError === undefined ? {} : { lastError: task.lastError }),
  };
  const events: JetqEvent[] = [{ ...base, type: TASK_STATE_EVENT }];
  if (isFinalState(task.state)) events.push({ ...base, eventId: newId(), type: TASK_FINAL_EVENT });
  return events;
}

/** Serialises an event to its JSON wire form (snake_case, ISO timestamp). */
export function encodeEvent(e: JetqEvent): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      event_id: e.eventId,
      type: e.type,
      timestamp: new Date(e.timestamp).toISOString(),
      task_id: e.taskId,
      state: e.state,
      tries: e.tries,
      queue: e.queue,
      task_type: e.taskType,
      last_error: e.lastError,
      task_age: e.ageMs,
    }),
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
  if (w.type !== TASK_STATE_EVENT && w.type !== TASK_FINAL_EVENT) {
    throw new ValidationError("unknown_event_type", `unknown event type ${JSON.stringify(w.type)}`);
  }
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
    type: w.type,
    timestamp,
    taskId: w.task_id,
    state: w.state as TaskState,
    tries: Number(w.tries) || 0,
    queue: String(w.queue ?? ""),
    taskType: String(w.task_type ?? ""),
    ageMs: Number(w.task_age) || 0,
    ...(typeof w.last_error === "string" ? { lastError: w.last_error } : {}),
  };
}
