/**
 * `jetq.api.tasks.list`: the task listing of `jetq serve` over NATS request/reply (what `jetq task
 * list` calls). Body `{queue?, state?, type?, id?, limit?, cursor?}` (JSON, all optional); reply
 * `{ok: true, tasks: [<task wire form>], next_cursor?}` or `{ok: false, error: {code, message}}`,
 * like the schedule API (docs/scheduler.md).
 */
import { JetqError } from "../errors.js";
import { encodeTask } from "../jobs/storage/task-codec.js";
import type { Task, TaskState } from "../jobs/task.js";
import { TASKS_LIST_API } from "../jobs/task-list.js";
import type { ApiReply } from "../request-api.js";
import type { DashboardStore } from "./dashboard-store.js";
import type { TaskListing, TaskListQuery } from "./task-catalog.js";

/** Queue group of the task API, so one `jetq serve` instance answers each request. */
export const TASKS_API_GROUP = "jetq-tasks-api";

const utf8 = new TextDecoder();

/** A task in its JSON wire form (docs/storage.md). */
export function taskWire(task: Task): Record<string, unknown> {
  return JSON.parse(utf8.decode(encodeTask(task)));
}

function optionalString(b: Record<string, unknown>, key: string): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new JetqError("invalid_request", `${key} must be a string`);
  return v;
}

/** The query of a request body. @throws JetqError (`invalid_request`) */
export function taskListQueryOf(b: Record<string, unknown>): TaskListQuery {
  const q: TaskListQuery = {};
  const queue = optionalString(b, "queue");
  const state = optionalString(b, "state");
  const type = optionalString(b, "type");
  const id = optionalString(b, "id");
  const cursor = optionalString(b, "cursor");
  if (queue !== undefined) q.queue = queue;
  if (state !== undefined) q.state = state as TaskState;
  if (type !== undefined) q.type = type;
  if (id !== undefined) q.id = id;
  if (cursor !== undefined) q.cursor = cursor;
  if (b.limit !== undefined && b.limit !== null) {
    if (typeof b.limit !== "number") throw new JetqError("invalid_request", "limit must be an integer");
    q.limit = b.limit;
  }
  return q;
}

/** Answers `jetq.api.tasks.list` from a listing until the returned function is called. */
export function serveTaskListApi(store: DashboardStore, listing: TaskListing): () => Promise<void> {
  return store.answer(TASKS_LIST_API, TASKS_API_GROUP, async (b): Promise<ApiReply> => {
    const page = await listing.list(taskListQueryOf(b));
    return {
      ok: true,
      tasks: page.tasks.map(taskWire),
      ...(page.nextCursor !== undefined ? { next_cursor: page.nextCursor } : {}),
    };
  });
}
