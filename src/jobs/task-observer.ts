import type { QueueAction } from "./events.js";
import type { Task } from "./task.js";

/** Receives what workers and producers do, e.g. to export metrics (see `JetqMetrics`). */
export interface TaskObserver {
  /** A task entered `task.state`. */
  taskState(task: Task): void;
  /** A handler returned (`ok`) or threw after `seconds`. */
  handlerDone(task: Task, seconds: number, ok: boolean): void;
  /** A running task's handler reported progress or appended a log line. */
  taskReport?(task: Task, kind: "progress" | "log"): void;
  /** Something happened to a queue (the same as its `jetq.ev.queue.<queue>.<action>` event). */
  queueEvent?(queue: string, action: QueueAction): void;
}

/** One observer telling both `a` and, when given, `b` (metrics beside a user's observer). */
export function combineObservers(a: TaskObserver, b: TaskObserver | undefined): TaskObserver {
  if (!b) return a;
  return {
    taskState: (t) => {
      a.taskState(t);
      b.taskState(t);
    },
    handlerDone: (t, s, ok) => {
      a.handlerDone(t, s, ok);
      b.handlerDone(t, s, ok);
    },
    queueEvent: (q, action) => {
      a.queueEvent?.(q, action);
      b.queueEvent?.(q, action);
    },
    taskReport: (t, kind) => {
      a.taskReport?.(t, kind);
      b.taskReport?.(t, kind);
    },
  };
}
