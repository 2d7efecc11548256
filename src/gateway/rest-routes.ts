/**
 * The jetq-native REST API under `/v1`: tasks with every option, queues, delayed-message schedules.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { validateQueueName } from "../jobs/names.js";
import { QUEUE_SETTINGS, type QueueChanges, updateQueue } from "../jobs/storage/queue-update.js";
import { MAX_LIST } from "../scheduler/schedule-api.js";
import type { ScheduleCommands } from "../scheduler/schedule-commands.js";
import { scheduleSpecFromJson } from "../scheduler/schedule-request.js";
import { HttpError } from "./http-errors.js";
import { documentEndpoint } from "./openapi-doc.js";
import { intQuery } from "./query-params.js";
import { jsonBody } from "./request-body.js";
import type { RouteDeps } from "./route-deps.js";
import {
  CancelReply,
  EnqueueReply,
  PurgeReply,
  pageQuery,
  QueueConfigBody,
  QueueConfigView,
  QueueInfoView,
  QueueListReply,
  QueueName,
  QueueUpdateReply,
  ScheduleBody,
  ScheduleListReply,
  ScheduleReply,
  TaskBody,
  TaskReply,
} from "./schemas.js";
import { callerTraceContext, dedupeOf, taskFromBody } from "./task-body.js";
import { enqueueWithControls } from "./task-controls.js";
import { logLinesView, queueInfoView, queueUpdateView, queueView, settingField, taskView } from "./views.js";

/** Paths of the REST API (hono style, for 405 answers). */
export const REST_PATHS = [
  "/v1/queues",
  "/v1/queues/:queue",
  "/v1/queues/:queue/purge",
  "/v1/queues/:queue/tasks",
  "/v1/tasks/:id",
  "/v1/schedules",
  "/v1/schedules/:id",
];

function schedulesOf(d: RouteDeps): ScheduleCommands {
  if (!d.schedules) throw new HttpError(503, "scheduler_unavailable", "the scheduler is not running in this process");
  return d.schedules;
}

/** The queue settings of a REST body (snake_case) as a {@link QueueChanges} (camelCase); absent fields left out. */
function queueSettingsOf(b: z.infer<typeof QueueConfigBody>): QueueChanges {
  const out: Record<string, unknown> = {};
  for (const k of QUEUE_SETTINGS) {
    const v = b[settingField(k)];
    if (v !== undefined) out[k] = v;
  }
  return out as QueueChanges;
}

/** Registers the `/v1` endpoints on `app`. */
export function registerRestRoutes(app: OpenAPIHono, d: RouteDeps): void {
  const { storage, limits } = d;
  const queueOf = (c: Context) => validateQueueName(c.req.param("queue"));

  app.get("/v1/queues", async (c) => c.json({ queues: await storage.queueNames() }, 200));

  app.put("/v1/queues/:queue", async (c) => {
    const name = queueOf(c);
    const b = await jsonBody(c, QueueConfigBody, limits);
    const existing = await storage.findQueue(name);
    if (existing) return c.json(queueView(existing), 200);
    d.queueCreation.take(name, false);
    const q = await storage.prepareQueue({ name, ...queueSettingsOf(b) });
    d.dispatcher.poke(name);
    return c.json(queueView(q), 201);
  });

  app.patch("/v1/queues/:queue", async (c) => {
    const name = queueOf(c);
    const b = await jsonBody(c, QueueConfigBody, limits);
    const r = await updateQueue(storage, name, queueSettingsOf(b), { allowDrop: c.req.query("allow_drop") === "true" });
    return c.json(queueUpdateView(r), 200);
  });

  app.get("/v1/queues/:queue", async (c) => {
    return c.json(queueInfoView(await storage.queueInfo(queueOf(c))), 200);
  });

  app.post("/v1/queues/:queue/purge", async (c) => c.json({ purged: await storage.purgeQueue(queueOf(c)) }, 200));

  app.post("/v1/queues/:queue/tasks", async (c) => {
    const queue = queueOf(c);
    const b = await jsonBody(c, TaskBody, limits);
    const task = taskFromBody(b);
    const trace = callerTraceContext((h) => c.req.header(h));
    if (trace) task.traceContext = trace;
    await storage.getQueue(queue);
    const r = await enqueueWithControls(d.engine, task, queue, dedupeOf(b));
    const view = { task: taskView(r.task), ...(b.dedupe ? { duplicate: r.duplicate } : {}) };
    return r.duplicate ? c.json(view, 200) : c.json(view, 201);
  });

  app.get("/v1/tasks/:id", async (c) => {
    const id = c.req.param("id");
    const view = taskView(await storage.loadTask(id));
    if (c.req.query("logs") === "true") view.logs = logLinesView(await storage.logs.read(id));
    return c.json({ task: view }, 200);
  });

  app.post("/v1/schedules", async (c) => {
    const commands = schedulesOf(d);
    const body = await jsonBody(c, ScheduleBody, limits);
    return c.json({ schedule: await commands.add(scheduleSpecFromJson(body)) }, 201);
  });

  app.get("/v1/schedules", async (c) => {
    const commands = schedulesOf(d);
    const limit = intQuery(c, "limit", 100, 1, MAX_LIST);
    const after = intQuery(c, "after", 0, 0, Number.MAX_SAFE_INTEGER);
    return c.json(await commands.list(limit, after), 200);
  });

  app.get("/v1/schedules/:id", async (c) => c.json({ schedule: await schedulesOf(d).get(c.req.param("id")) }, 200));

  app.delete("/v1/schedules/:id", async (c) => {
    const id = c.req.param("id");
    await schedulesOf(d).cancel(id);
    return c.json({ id }, 200);
  });

  const queueParam = z.object({ queue: QueueName });
  const idParam = z.object({ id: z.string() });
  documentEndpoint(app, {
    method: "get",
    path: "/v1/queues",
    tag: "queues",
    summary: "Names of all queues",
    ok: { status: 200, schema: QueueListReply, description: "Queue names" },
  });
  documentEndpoint(app, {
    method: "put",
    path: "/v1/queues/{queue}",
    tag: "queues",
    summary: "Create a queue (an existing queue is returned unchanged)",
    params: queueParam,
    body: QueueConfigBody,
    ok: { status: 201, schema: QueueConfigView, description: "Created (200: it existed; its stored definition)" },
  });
  documentEndpoint(app, {
    method: "patch",
    path: "/v1/queues/{queue}",
    tag: "queues",
    summary: "Change a queue's settings",
    description:
      "Only the fields given change. JetStream applies the stream limits (max_age_ms, max_entries, discard_old), " +
      "the consumers' ack wait (max_run_time_ms, redeliver_after_ms) and max_concurrent at once; running workers " +
      "pick up max_tries and max_run_time_ms when they restart. 409 `queue_update_drops_tasks`: a lower max_age_ms " +
      "or max_entries would remove items the queue holds (add `?allow_drop=true` to accept).",
    params: queueParam,
    query: z.object({ allow_drop: z.string().optional().openapi({ description: "`true`: accept removing items" }) }),
    body: QueueConfigBody,
    ok: { status: 200, schema: QueueUpdateReply, description: "The definition now, and what changed" },
    errors: [404, 409],
  });
  documentEndpoint(app, {
    method: "get",
    path: "/v1/queues/{queue}",
    tag: "queues",
    summary: "Inspect a queue",
    params: queueParam,
    ok: { status: 200, schema: QueueInfoView, description: "Definition and live numbers" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "post",
    path: "/v1/queues/{queue}/purge",
    tag: "queues",
    summary: "Remove every item of a queue (task records stay)",
    params: queueParam,
    ok: { status: 200, schema: PurgeReply, description: "How many items were removed" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "post",
    path: "/v1/queues/{queue}/tasks",
    tag: "tasks",
    summary: "Enqueue a task with every option",
    params: queueParam,
    body: TaskBody,
    ok: {
      status: 201,
      schema: EnqueueReply,
      description: "The stored task (200 with `duplicate: true`: the task that holds the `dedupe` key)",
    },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "get",
    path: "/v1/tasks/{id}",
    tag: "tasks",
    summary: "A task by id",
    params: idParam,
    query: z.object({ logs: z.string().optional().openapi({ description: "`true`: include its log lines" }) }),
    ok: { status: 200, schema: TaskReply, description: "The task's latest record" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "post",
    path: "/v1/schedules",
    tag: "schedules",
    summary: "Add a delayed or recurring message",
    description: "Same body and error codes as the scheduler's request API (jetq.api.sched.add).",
    body: ScheduleBody,
    ok: { status: 201, schema: ScheduleReply, description: "The stored schedule" },
  });
  documentEndpoint(app, {
    method: "get",
    path: "/v1/schedules",
    tag: "schedules",
    summary: "List pending schedules",
    query: pageQuery(MAX_LIST),
    ok: { status: 200, schema: ScheduleListReply, description: "A page of schedules" },
  });
  documentEndpoint(app, {
    method: "get",
    path: "/v1/schedules/{id}",
    tag: "schedules",
    summary: "A pending schedule",
    params: idParam,
    ok: { status: 200, schema: ScheduleReply, description: "The schedule" },
    errors: [404],
  });
  documentEndpoint(app, {
    method: "delete",
    path: "/v1/schedules/{id}",
    tag: "schedules",
    summary: "Cancel a pending schedule",
    params: idParam,
    ok: { status: 200, schema: CancelReply, description: "Cancelled" },
    errors: [404],
  });
}
