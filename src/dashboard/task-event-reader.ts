/**
 * Reads task state events cheaply: `jetq serve` takes every one of them (several per job), so the
 * queue and state come from the subject (`jetq.ev.task.<queue>.<step|final>.<state>`) and the
 * few fields the index and the series need are cut from the JSON as jetq writes it, without
 * parsing the whole body. Anything unexpected goes through the full parser.
 */
import { parseTaskStateEvent } from "../jobs/events.js";
import { isValidId, isValidQueueName, isValidTaskType } from "../jobs/names.js";
import { isFinalState, TaskState } from "../jobs/task.js";

/** What the dashboard takes from a task state event. */
export interface TaskEventFacts {
  taskId: string;
  queue: string;
  state: TaskState;
  taskType: string;
  tries: number;
  /** Time since the task was created, ms. */
  ageMs: number;
  /** When it happened, epoch ms. */
  timestamp: number;
}

const PREFIX = "jetq.ev.task.";
const STATES = new Set<string>(Object.values(TaskState));
const utf8 = new TextDecoder();

/** The text of a string field (jetq writes ids, types and timestamps without escapes). */
function stringField(json: string, name: string): string | undefined {
  const key = `"${name}":"`;
  const at = json.indexOf(key);
  if (at < 0) return undefined;
  const end = json.indexOf('"', at + key.length);
  return end < 0 ? undefined : json.slice(at + key.length, end);
}

function numberField(json: string, name: string): number | undefined {
  const key = `"${name}":`;
  const at = json.indexOf(key);
  if (at < 0) return undefined;
  let end = at + key.length;
  while (end < json.length && json.charCodeAt(end) >= 45 && json.charCodeAt(end) <= 57) end++;
  const v = Number(json.slice(at + key.length, end));
  return Number.isFinite(v) ? v : undefined;
}

/**
 * The facts of a task state event on `subject`, or undefined for anything else.
 * @throws ValidationError (`invalid_event`) for a task event whose body does not hold up
 */
export function readTaskEvent(subject: string, data: Uint8Array): TaskEventFacts | undefined {
  if (!subject.startsWith(PREFIX)) return undefined;
  const [queue, kind, state, extra] = subject.slice(PREFIX.length).split(".");
  if (extra !== undefined || !queue || !state || !STATES.has(state) || !isValidQueueName(queue)) return undefined;
  if ((kind === "final") !== isFinalState(state as TaskState) || (kind !== "final" && kind !== "step"))
    return undefined;
  const json = utf8.decode(data);
  const taskId = stringField(json, "task_id");
  const taskType = stringField(json, "task_type");
  const timestamp = Date.parse(stringField(json, "timestamp") ?? "");
  const tries = numberField(json, "tries");
  const ageMs = numberField(json, "task_age");
  if (
    isValidId(taskId) &&
    isValidTaskType(taskType) &&
    Number.isFinite(timestamp) &&
    tries !== undefined &&
    ageMs !== undefined
  )
    return { taskId, queue, state: state as TaskState, taskType, tries, ageMs, timestamp };
  const e = parseTaskStateEvent(data); // another writer's layout: the full parser decides
  if (!isValidId(e.taskId) || !isValidTaskType(e.taskType)) return undefined;
  return {
    taskId: e.taskId,
    queue,
    state: state as TaskState,
    taskType: e.taskType,
    tries: e.tries,
    ageMs: e.ageMs,
    timestamp: e.timestamp,
  };
}
