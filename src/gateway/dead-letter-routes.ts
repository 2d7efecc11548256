/**
 * The dead-letter endpoints of the REST API: list, inspect, redrive and purge the tasks of a queue
 * that failed for good (docs/dead-letters.md).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { MAX_DEAD_LETTER_PAGE } from "../jobs/dead-letters.js";
import { HttpError } from "./http-errors.js";
import { documentEndpoint } from "./openapi-doc.js";
import { intQuery } from "./query-params.js";
import type { RouteDeps } from "./route-deps.js";
import {
  DeadLetterListReply,
  DeadLetterReply,
  PurgeReply,
  pageQuery,
  QueueName,
  RedriveAllReply,
  TaskId,
  TaskReply,
} from "./schemas.js";
import { deadLetterView, taskView } from "./views.js";

/** Paths of the dead-letter endpoints (hono style, for 405 answers). */
export const DEAD_LETTER_PATHS = [
  "/v1/queues/:queue/dead-letters",
  "/v1/queues/:queue/dead-letters/redrive",
  "/v1/queues/:queue/dead-letters/:id",
  "/v1/queues/:queue/dead-letters/:id/redrive",
];

/** Registers the `/v1/queues/{queue}/dead-letters` endpoints on `app`. */
export function registerDeadLetterRoutes(app: OpenAPIHono, d: RouteDeps): void {
  const dead = d.engine.deadLetters;
  const queueOf = (c: Context) => c.req.param("queue") ?? "";
  const idOf = (c: Context) => c.req.param("id") ?? "";

  app.get("/v1/queues/:queue/dead-letters", async (c) => {
    const limit = intQuery(c, "limit", 100, 1, MAX_DEAD_LETTER_PAGE);
    const after = intQuery(c, "after", 0, 0, Number.MAX_SAFE_INTEGER);
    const page = await dead.list(queueOf(c), { limit, after });
    return c.json(
      {
        dead_letters: page.deadLetters.map(deadLetterView),
        ...(page.next === undefined ? {} : { next: page.next }),
      },
      200,
    );
  });

  app.post("/v1/queues/:queue/dead-letters/redrive", async (c) => c.json(await dead.redriveAll(queueOf(c)), 200));

  app.delete("/v1/queues/:queue/dead-letters", async (c) => c.json({ purged: await dead.purge(queueOf(c)) }, 200));

  app.get("/v1/queues/:queue/dead-letters/:id", async (c) =>
    c.json({ dead_letter: deadLetterView(await dead.get(queueOf(c), idOf(c))) }, 200),
  );

  app.post("/v1/queues/:queue/dead-letters/:id/redrive", async (c) =>
    c.json({ task: taskView(await dead.redrive(queueOf(c), idOf(c))) }, 200),
  );

  app.delete("/v1/queues/:queue/dead-letters/:id", async (c) => {
    const queue = queueOf(c);
    const id = idOf(c);
    const purged = await dead.purge(queue, id);
    if (purged === 0)
      throw new HttpError(404, "dead_letter_not_found", `queue ${queue} has no dead letter for task ${id}`);
    return c.json({ purged }, 200);
  });

  const queueParam = z.object({ queue: QueueName });
  const entryParams = z.object({ queue: QueueName, id: TaskId });
  const tag = "dead letters";
  documentEndpoint(app, {
    method: "get",
    path: "/v1/queues/{queue}/dead-letters",
    tag,
    summary: "List a queue's dead letters, oldest first",
    params: queueParam,
    query: pageQuery(MAX_DEAD_LETTER_PAGE),
    ok: { status: 200, schema: DeadLetterListReply, description: "A page of dead letters" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "get",
    path: "/v1/queues/{queue}/dead-letters/{id}",
    tag,
    summary: "A task's dead letter: the task with its last error and failure history",
    params: entryParams,
    ok: { status: 200, schema: DeadLetterReply, description: "The dead letter" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "post",
    path: "/v1/queues/{queue}/dead-letters/{id}/redrive",
    tag,
    summary: "Put a dead letter back in its queue as a fresh task (tries 0)",
    description:
      "A deadline that has passed is dropped. Redriving the same entry twice enqueues it once. " +
      "400 `signing_key_required`: the task is signed and its deadline passed (redrive it from a client with the key).",
    params: entryParams,
    ok: { status: 200, schema: TaskReply, description: "The task as enqueued" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "post",
    path: "/v1/queues/{queue}/dead-letters/redrive",
    tag,
    summary: "Redrive every dead letter of a queue",
    params: queueParam,
    ok: { status: 200, schema: RedriveAllReply, description: "How many were redriven and left in place" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "delete",
    path: "/v1/queues/{queue}/dead-letters/{id}",
    tag,
    summary: "Remove a task's dead letter without running it",
    params: entryParams,
    ok: { status: 200, schema: PurgeReply, description: "Removed" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "delete",
    path: "/v1/queues/{queue}/dead-letters",
    tag,
    summary: "Remove every dead letter of a queue",
    params: queueParam,
    ok: { status: 200, schema: PurgeReply, description: "How many were removed" },
    errors: [404],
  });
}
