/**
 * `GET /v1/tasks`: tasks by queue, state and type, newest first, from the task index of `jetq
 * serve` (docs/dashboard.md). Same query and reply as the `jetq.api.tasks.list` request API.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { TaskListing, TaskListQuery } from "../dashboard/task-catalog.js";
import type { TaskState } from "../jobs/task.js";
import { badRequest, HttpError } from "./http-errors.js";
import { documentEndpoint } from "./openapi-doc.js";
import { TaskListQueryParams, TaskListReply } from "./schemas.js";
import { taskView } from "./views.js";

/** Paths of these endpoints (hono style, for 405 answers). */
export const TASK_LIST_PATHS = ["/v1/tasks"];

const PARAMS = new Set(["queue", "state", "type", "id", "limit", "cursor"]);

/** Registers `GET /v1/tasks` on `app`; without a listing it answers 503 `task_index_unavailable`. */
export function registerTaskListRoutes(app: OpenAPIHono, tasks: TaskListing | undefined): void {
  app.get("/v1/tasks", async (c) => {
    if (!tasks) throw new HttpError(503, "task_index_unavailable", "this gateway runs without the task index");
    const given = c.req.query();
    for (const k of Object.keys(given))
      if (!PARAMS.has(k)) throw badRequest("invalid_request", `unknown parameter ${k}`);
    const q: TaskListQuery = {};
    if (given.queue !== undefined) q.queue = given.queue;
    if (given.state !== undefined) q.state = given.state as TaskState;
    if (given.type !== undefined) q.type = given.type;
    if (given.id !== undefined) q.id = given.id;
    if (given.cursor !== undefined) q.cursor = given.cursor;
    if (given.limit !== undefined) {
      if (!/^\d{1,6}$/.test(given.limit)) throw badRequest("invalid_limit", "limit must be an integer 1-1000");
      q.limit = Number(given.limit);
    }
    const page = await tasks.list(q);
    return c.json(
      {
        tasks: page.tasks.map(taskView),
        ...(page.nextCursor !== undefined ? { next_cursor: page.nextCursor } : {}),
      },
      200,
    );
  });

  documentEndpoint(app, {
    method: "get",
    path: "/v1/tasks",
    tag: "tasks",
    summary: "List tasks by queue, state and type, newest first",
    description:
      "Waiting tasks (`new`) are read from their queue's stream, newest enqueued first; the other states come from the " +
      "task index of `jetq serve`, most recently changed first. 503 `index_building` while the index is first built.",
    query: TaskListQueryParams,
    ok: { status: 200, schema: TaskListReply, description: "A page of tasks" },
    errors: [404],
  });
}
