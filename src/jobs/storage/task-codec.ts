import { headers, type MsgHdrs } from "@nats-io/nats-core";
import { ValidationError } from "../../errors.js";
import { isoTime as iso } from "../../iso-time.js";
import { isValidId, isValidQueueName, isValidTaskType } from "../names.js";
import { MAX_FAILURES_KEPT, type Task, type TaskFailure, TaskState } from "../task.js";
import { cleanTraceContext } from "../tracing.js";
import { MSG_ID_HEADER, RECORD_HEADERS } from "./layout.js";
import type { TaskWire } from "./task-wire.js";

const STATES = new Set<string>([...Object.values(TaskState)]);

/** Serialises a task to its JSON wire form. */
export function encodeTask(task: Task): Uint8Array {
  const w: TaskWire = {
    id: task.id,
    type: task.type,
    queue: task.queue,
    max_tries: task.maxTries,
    priority: task.priority,
    state: task.state,
    created: iso(task.createdAt),
    tries: task.tries,
  };
  if (task.payload instanceof Uint8Array) w.payload_b64 = Buffer.from(task.payload).toString("base64");
  else w.payload = task.payload;
  if (task.deadline !== undefined) w.deadline = iso(task.deadline);
  if (task.result) w.result = { value: task.result.value, completed: iso(task.result.completedAt) };
  if (task.lastTriedAt !== undefined) w.tried = iso(task.lastTriedAt);
  if (task.lastError !== undefined) w.last_err = task.lastError;
  if (task.dependencies?.length) w.dependencies = task.dependencies;
  if (task.loadDependencies) w.load_dependencies = true;
  if (task.dependencyResults) {
    w.dependency_results = Object.fromEntries(
      Object.entries(task.dependencyResults).map(([id, r]) => [id, { value: r.value, completed: iso(r.completedAt) }]),
    );
  }
  if (task.signature !== undefined) w.signature = task.signature;
  if (task.releases) w.releases = task.releases;
  if (task.run) w.run = task.run;
  if (task.runAt !== undefined) w.run_at = iso(task.runAt);
  if (task.progress !== undefined) w.progress = task.progress;
  if (task.failures?.length) w.failures = task.failures.map((f) => ({ try: f.try, at: iso(f.at), error: f.error }));
  if (task.traceContext) w.trace_context = task.traceContext;
  return Buffer.from(JSON.stringify(w));
}

function corrupt(why: string): never {
  throw new ValidationError("corrupt_task", `corrupt task record: ${why}`);
}

function time(v: unknown, field: string): number {
  const ms = typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) corrupt(`${field} is not a timestamp`);
  return ms;
}

function failure(f: unknown): TaskFailure {
  const r = (typeof f === "object" && f !== null ? f : {}) as Record<string, unknown>;
  return {
    try: Number.isInteger(r.try) ? (r.try as number) : 0,
    at: time(r.at, "failures.at"),
    error: String(r.error ?? ""),
  };
}

/**
 * Parses a task from its wire form.
 * @throws ValidationError (`corrupt_task`) when the bytes are not a well-formed task.
 */
export function decodeTask(data: Uint8Array): Task {
  let w: Partial<TaskWire>;
  try {
    w = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    return corrupt("not JSON");
  }
  if (typeof w !== "object" || w === null) corrupt("not an object");
  // Names reach subjects and event JSON: a record from the wire is held to the same rules as an enqueue.
  if (!isValidId(w.id) || !isValidTaskType(w.type) || !(w.queue === "" || isValidQueueName(w.queue))) {
    corrupt("invalid id, type or queue");
  }
  if (typeof w.state !== "string" || !STATES.has(w.state)) corrupt("unknown state");
  const task: Task = {
    id: w.id,
    type: w.type,
    queue: w.queue,
    payload: typeof w.payload_b64 === "string" ? new Uint8Array(Buffer.from(w.payload_b64, "base64")) : w.payload,
    maxTries: Number.isInteger(w.max_tries) ? (w.max_tries as number) : 0,
    priority: Number.isInteger(w.priority) ? (w.priority as number) : 5,
    state: w.state as TaskState,
    createdAt: time(w.created, "created"),
    tries: Number.isInteger(w.tries) ? (w.tries as number) : 0,
  };
  if (w.deadline !== undefined) task.deadline = time(w.deadline, "deadline");
  if (w.tried !== undefined) task.lastTriedAt = time(w.tried, "tried");
  if (typeof w.last_err === "string") task.lastError = w.last_err;
  if (Array.isArray(w.dependencies) && w.dependencies.every((d) => typeof d === "string"))
    task.dependencies = w.dependencies;
  if (w.load_dependencies === true) task.loadDependencies = true;
  if (w.dependency_results && typeof w.dependency_results === "object") {
    task.dependencyResults = Object.fromEntries(
      Object.entries(w.dependency_results).map(([id, r]) => [
        id,
        { value: r?.value, completedAt: time(r?.completed, "dependency result") },
      ]),
    );
  }
  if (typeof w.signature === "string") task.signature = w.signature;
  if (Number.isInteger(w.releases) && (w.releases as number) > 0) task.releases = w.releases as number;
  if (Number.isInteger(w.run) && (w.run as number) > 0) task.run = w.run as number;
  if (w.run_at !== undefined) task.runAt = time(w.run_at, "run_at");
  if (w.progress !== undefined) task.progress = w.progress;
  if (Array.isArray(w.failures)) task.failures = w.failures.slice(-MAX_FAILURES_KEPT).map(failure);
  const trace = cleanTraceContext(w.trace_context);
  if (trace) task.traceContext = trace;
  if (w.result && typeof w.result === "object") {
    task.result = { value: w.result.value, completedAt: time(w.result.completed, "result.completed") };
  }
  return task;
}

/** The {@link RECORD_HEADERS} of a task's record, plus a de-duplication id when given. */
export function recordHeaderValues(task: Task, msgId?: string): Record<string, string> {
  const h: Record<string, string> = {
    [RECORD_HEADERS.queue]: task.queue,
    [RECORD_HEADERS.state]: task.state,
    [RECORD_HEADERS.type]: task.type,
  };
  if (msgId !== undefined) h[MSG_ID_HEADER] = msgId;
  return h;
}

/** {@link recordHeaderValues} as NATS headers, for the caller to add to. */
export function recordHeaders(task: Task, msgId?: string): MsgHdrs {
  const h = headers();
  for (const [k, v] of Object.entries(recordHeaderValues(task, msgId))) h.set(k, v);
  return h;
}

/** Most header sets {@link sharedRecordHeaders} keeps (it starts over when full). */
const SHARED_HEADERS_MAX = 1024;
const shared = new Map<string, MsgHdrs>();
const readOnly = (): never => {
  throw new TypeError("shared record headers cannot be changed");
};

/**
 * The {@link recordHeaders} of a task's record without a de-duplication id, shared by every record
 * of the same queue, state and type: a record write is the hot path of every try, and building
 * and encoding the same three headers each time was a measurable part of it. The headers are
 * encoded once, and refuse to be changed (`set`, `append` and `delete` throw a TypeError).
 */
export function sharedRecordHeaders(task: Task): MsgHdrs {
  const key = `${task.queue}\n${task.state}\n${task.type}`;
  let h = shared.get(key);
  if (h) return h;
  h = recordHeaders(task);
  // nats.js asks the headers for their bytes on every publish: they are always these.
  const encoded = h as MsgHdrs & { encode?: () => Uint8Array };
  if (typeof encoded.encode === "function") {
    const bytes = encoded.encode();
    encoded.encode = () => bytes;
  }
  h.set = h.append = h.delete = readOnly;
  if (shared.size >= SHARED_HEADERS_MAX) shared.clear();
  shared.set(key, h);
  return h;
}
