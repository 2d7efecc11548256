/**
 * REST endpoints of the everyday controls: pause/resume and rate limits of queues, cancellation
 * and logs of tasks.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { validateId, validateQueueName } from "../jobs/names.js";
import { documentEndpoint } from "./openapi-doc.js";
import { jsonBody } from "./request-body.js";
import type { RouteDeps } from "./route-deps.js";
import { QueueControlsView, QueueName, RateLimitBody, TaskLogsReply, TaskReply } from "./schemas.js";
import { controlsView, logLinesView, taskView } from "./views.js";

/** Paths of these endpoints (hono style, for 405 answers). */
export const CONTROL_PATHS = [
  "/v1/queues/:queue/pause",
  "/v1/queues/:queue/resume",
  "/v1/queues/:queue/rate-limit",
  "/v1/tasks/:id/cancel",
  "/v1/tasks/:id/logs",
];

/** Registers the control endpoints on `app`. */
export function registerControlRoutes(app: OpenAPIHono, d: RouteDeps): void {
  const { storage, limits } = d;
  const controls = () => d.engine.controls();
  const queueOf = (c: Context) => validateQueueName(c.req.param("queue"));
  const idOf = (c: Context) => validateId(c.req.param("id"));

  app.post("/v1/queues/:queue/pause", async (c) =>
    c.json(controlsView(await (await controls()).pause(queueOf(c))), 200),
  );
  app.post("/v1/queues/:queue/resume", async (c) =>
    c.json(controlsView(await (await controls()).resume(queueOf(c))), 200),
  );
  app.put("/v1/queues/:queue/rate-limit", async (c) => {
    const queue = queueOf(c);
    const b = await jsonBody(c, RateLimitBody, limits);
    const set = await (await controls()).setRateLimit(queue, { limit: b.limit, intervalMs: b.interval_ms });
    return c.json(controlsView(set), 200);
  });
  app.delete("/v1/queues/:queue/rate-limit", async (c) =>
    c.json(controlsView(await (await controls()).setRateLimit(queueOf(c), null)), 200),
  );
  app.post("/v1/tasks/:id/cancel", async (c) => {
    const task = await d.engine.cancelTask(idOf(c));
    return c.json({ task: taskView(task) }, 200);
  });
  app.get("/v1/tasks/:id/logs", async (c) => {
    const id = idOf(c);
    await storage.loadTask(id);
    return c.json({ lines: logLinesView(await storage.logs.read(id)) }, 200);
  });

  const queueParam = z.object({ queue: QueueName });
  const idParam = z.object({ id: z.string() });
  const controlsReply = { status: 200 as const, schema: QueueControlsView, description: "The queue's controls now" };
  documentEndpoint(app, {
    method: "post",
    path: "/v1/queues/{queue}/pause",
    tag: "queues",
    summary: "Pause a queue: consumers take no new work (running tasks finish); kept across restarts",
    params: queueParam,
    ok: controlsReply,
    errors: [404],
  });
  documentEndpoint(app, {
    method: "post",
    path: "/v1/queues/{queue}/resume",
    tag: "queues",
    summary: "Resume a paused (or held) queue",
    params: queueParam,
    ok: controlsReply,
    errors: [404],
  });
  documentEndpoint(app, {
    method: "put",
    path: "/v1/queues/{queue}/rate-limit",
    tag: "queues",
    summary: "Set the queue-wide rate limit (task starts per interval, across all consumers)",
    params: queueParam,
    body: RateLimitBody,
    ok: controlsReply,
    errors: [404],
  });
  documentEndpoint(app, {
    method: "delete",
    path: "/v1/queues/{queue}/rate-limit",
    tag: "queues",
    summary: "Remove the queue's rate limit",
    params: queueParam,
    ok: controlsReply,
    errors: [404],
  });
  documentEndpoint(app, {
    method: "post",
    path: "/v1/tasks/{id}/cancel",
    tag: "tasks",
    summary: "Cancel a task: at once when not running, else its worker aborts it within a second",
    description:
      "The reply shows state `cancelled`, or `active` while its worker is being told (watch for the final event).",
    params: idParam,
    ok: { status: 200, schema: TaskReply, description: "The task as it stands" },
    errors: [404, 409],
  });
  documentEndpoint(app, {
    method: "get",
    path: "/v1/tasks/{id}/logs",
    tag: "tasks",
    summary: "The log lines a task's handlers appended",
    params: idParam,
    ok: { status: 200, schema: TaskLogsReply, description: "Lines, oldest first" },
    errors: [404],
  });
}
