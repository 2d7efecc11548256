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
