import { ValidationError } from "../errors.js";
import { checkTime } from "../time-range.js";
import { newId } from "./id.js";
import { validateId, validateTaskType } from "./names.js";
import { DEFAULT_PRIORITY } from "./storage/layout.js";
import type { TaskLogLine } from "./storage/task-logs.js";

/**
 * The states a task moves through. `new` → `active` → `complete`, with `retry` between failed
 * tries; `delayed` and `blocked` come before `new` for tasks that wait for a time or for other
 * tasks; `expired`, `terminated`, `unreachable`, `cancelled` and `complete` are final.
 */
export const TaskState = {
  /** Enqueued, not yet handled. */
  New: "new",
  /** A handler is running it. */
  Active: "active",
  /** A try failed; it waits for its back-off before the next try. */
  Retry: "retry",
  /** It reached its deadline or its maximum tries. Final. */
  Expired: "expired",
  /** A handler ended it with {@link TerminateTask}, or it was unverifiable/corrupt. Final. */
  Terminated: "terminated",
  /** The handler returned; the result is stored. Final. */
  Complete: "complete",
  /** Its work item could not be written to the queue. */
  QueueError: "queue_error",
  /** Waiting for dependencies. */
  Blocked: "blocked",
  /** A dependency failed, so it will never run. Final. */
  Unreachable: "unreachable",
  /** Cancelled on request (`cancelTask`), before or while it ran; never retried. Final. */
  Cancelled: "cancelled",
  /** Waiting for its `runAt` time; the scheduler puts it in its queue then. */
  Delayed: "delayed",
} as const;
/** One of the values of {@link TaskState}. */
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** States after which a task is never run again. */
export const FINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  TaskState.Expired,
  TaskState.Terminated,
  TaskState.Complete,
  TaskState.Unreachable,
  TaskState.Cancelled,
]);

/** True when `state` is final. */
export function isFinalState(state: TaskState): boolean {
  return FINAL_STATES.has(state);
}

/** The outcome a handler produced. */
export interface TaskResult<R = unknown> {
  /** What the handler returned. */
  value: R;
  /** When it completed (epoch ms). */
  completedAt: number;
}

/** One failed try, kept in {@link Task.failures}. */
export interface TaskFailure {
  /** Which try failed (1-based). */
  try: number;
  /** When it failed, epoch ms. */
  at: number;
  /** The error message. */
  error: string;
}

/** How many failed tries a task remembers in {@link Task.failures} (the most recent ones). */
export const MAX_FAILURES_KEPT = 10;

/** A unit of work. Plain data: what you enqueue, what a handler receives, what `loadTask` returns. */
export interface Task<P = unknown, R = unknown> {
  /** K-sortable unique id (a ULID unless you supply one). */
  id: string;
  /** Routing key for handlers, e.g. `email:send`. */
  type: string;
  /** Queue the task was enqueued to; set on enqueue. */
  queue: string;
  /** The work description: any JSON value, or bytes when a custom encoder was used. */
  payload: P;
  /** Epoch ms after which the task must not start; it expires instead. */
  deadline?: number;
  /** Tries allowed for this task; the queue's `maxTries` caps it. 0 means the queue's. */
  maxTries: number;
  /** Priority level 0 (most urgent) to 9; default 5. */
  priority: number;
  /** Set when the task completed. */
  result?: TaskResult<R>;
  /** Current state. */
  state: TaskState;
  /** Creation time, epoch ms. */
  createdAt: number;
  /** Start of the most recent try, epoch ms. */
  lastTriedAt?: number;
  /** Handler invocations so far. */
  tries: number;
  /** Error message of the most recent failed try. */
  lastError?: string;
  /** Ids of tasks that must complete before this one runs. */
  dependencies?: string[];
  /** Hand the handler the results of its dependencies (`dependencyResults`). */
  loadDependencies?: boolean;
  /** Results of the dependencies, by task id, when `loadDependencies` is set. */
  dependencyResults?: Record<string, TaskResult>;
  /** Hex ed25519 signature by the producer (see docs/signing.md for what it covers). */
  signature?: string;
  /**
   * How many times the task was started again from scratch (`retryTask`, a dead-letter redrive).
   * A delivery of an earlier run of a task whose record is final never runs. Not covered by the
   * signature: starting a task again is an operator's action (see docs/signing.md).
   */
  run?: number;
  /** Deliveries handed back unstarted (worker shutdown, HTTP client gone): they do not count as tries. */
  releases?: number;
  /** Epoch ms before which the task must not start (a delayed task). */
  runAt?: number;
  /** The latest progress its handler reported (a number or any JSON value). */
  progress?: unknown;
  /** The most recent failed tries, oldest first (at most {@link MAX_FAILURES_KEPT}). */
  failures?: TaskFailure[];
  /**
   * The W3C trace context (`traceparent`, `tracestate`) of the span that put the task in its queue,
   * set by jetq when `@opentelemetry/api` is installed (docs/tracing.md). Not covered by the signature.
   */
  traceContext?: Record<string, string>;
  /** Lines its handlers appended; only filled by `loadTask(id, { logs: true })` (not part of the record). */
  logs?: TaskLogLine[];
}

/** Options for {@link newTask}. */
export interface NewTaskOptions {
  /** Use this id instead of a generated ULID (must be a valid id). */
  id?: string;
  /** Absolute deadline (Date or epoch ms) after which the task must not start. */
  deadline?: Date | number;
  /** Maximum tries for this task (capped by the queue). @defaultValue the queue's `maxTries` */
  maxTries?: number;
  /** Priority 0 (most urgent) – 9. @defaultValue 5 */
  priority?: number;
  /** Ids of tasks that must complete first; the task stays `blocked` until then. */
  dependsOn?: string[];
  /** Give the handler its dependencies' results in `task.dependencyResults`. @defaultValue false */
  loadDependencies?: boolean;
  /** Run no earlier than this time (Date or epoch ms); the task waits as `delayed` until then. */
  runAt?: Date | number;
  /** Run no earlier than this many ms from now (an alternative to `runAt`). */
  delayMs?: number;
  /**
   * Encodes the payload to bytes instead of storing it as JSON; the handler then receives
   * the bytes (`Uint8Array`) as `task.payload`.
   */
  encoder?: (payload: unknown) => Uint8Array;
}

/**
 * Creates a task of `type` carrying `payload`. Nothing is written until you enqueue it.
 * @throws ValidationError for an invalid type, id, deadline, runAt/delayMs, priority or maxTries.
 */
export function newTask<P>(type: string, payload: P, opts: NewTaskOptions = {}): Task<P> {
  validateTaskType(type);
  const id = opts.id === undefined ? newId() : validateId(opts.id);
  const deadline = opts.deadline instanceof Date ? opts.deadline.getTime() : opts.deadline;
  if (deadline !== undefined) checkTime(deadline, "deadline", "invalid_deadline");
  const runAt = runAtOf(opts);
  const priority = opts.priority ?? DEFAULT_PRIORITY;
  if (!Number.isInteger(priority) || priority < 0 || priority > 9) {
    throw new ValidationError("invalid_priority", `priority must be an integer 0-9, got ${priority}`);
  }
  const maxTries = opts.maxTries ?? 0;
  if (!Number.isInteger(maxTries) || maxTries < 0) {
    throw new ValidationError("invalid_max_tries", `maxTries must be a non-negative integer, got ${maxTries}`);
  }
  const task: Task<P> = {
    id,
    type,
    queue: "",
    payload: (opts.encoder ? opts.encoder(payload) : payload) as P,
    maxTries,
    priority,
    state: TaskState.New,
    createdAt: Date.now(),
    tries: 0,
  };
  if (deadline !== undefined) task.deadline = deadline;
  if (runAt !== undefined) task.runAt = runAt;
  if (opts.dependsOn?.length) task.dependencies = opts.dependsOn.map((d) => validateId(d));
  if (opts.loadDependencies) task.loadDependencies = true;
  return task;
}

/**
 * Checks a task about to be written, whoever built it (`newTask`, a REST body, a dead letter, a
 * hand-made object): the fields that reach subjects, records and replies.
 * @throws ValidationError (`invalid_task_type`, `invalid_id`, `invalid_priority`, `invalid_max_tries`,
 * `invalid_deadline`, `invalid_run_at`, `invalid_task`)
 */
export function validateTask(task: Task): void {
  if (typeof task !== "object" || task === null) throw new ValidationError("invalid_task", "a task must be an object");
  validateTaskType(task.type);
  validateId(task.id);
  if (!Number.isInteger(task.priority) || task.priority < 0 || task.priority > 9)
    throw new ValidationError("invalid_priority", `priority must be an integer 0-9, got ${task.priority}`);
  if (!Number.isInteger(task.maxTries) || task.maxTries < 0)
    throw new ValidationError("invalid_max_tries", `maxTries must be a non-negative integer, got ${task.maxTries}`);
  if (task.deadline !== undefined) checkTime(task.deadline, "deadline", "invalid_deadline");
  if (task.runAt !== undefined) checkTime(task.runAt, "runAt", "invalid_run_at");
  if (!Number.isFinite(task.createdAt)) throw new ValidationError("invalid_task", "createdAt must be a time");
  for (const d of task.dependencies ?? []) validateId(d);
}

function runAtOf(opts: NewTaskOptions): number | undefined {
  if (opts.runAt !== undefined && opts.delayMs !== undefined) {
    throw new ValidationError("invalid_run_at", "give runAt or delayMs, not both");
  }
  if (opts.delayMs !== undefined) {
    if (!Number.isFinite(opts.delayMs) || opts.delayMs < 0) {
      throw new ValidationError("invalid_run_at", `delayMs must be a non-negative number, got ${opts.delayMs}`);
    }
    return Date.now() + Math.round(opts.delayMs);
  }
  const runAt = opts.runAt instanceof Date ? opts.runAt.getTime() : opts.runAt;
  if (runAt !== undefined) checkTime(runAt, "runAt", "invalid_run_at");
  return runAt;
}
