/**
 * The emq face: emq's endpoints, paths, bodies and replies (docs/http.md), on jetq queues.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { validateQueueName } from "../jobs/names.js";
import { newTask } from "../jobs/task.js";
import { DEFAULT_EXPIRY_MS, EMQ_TASK_TYPE, emqTaskId, emqView } from "./emq-tasks.js";
import { badRequest } from "./http-errors.js";
import { documentEndpoint } from "./openapi-doc.js";
import { disconnectSignal, jsonBody } from "./request-body.js";
import type { RouteDeps } from "./route-deps.js";
import {
  EmqEnqueueBody,
  EmqEnqueueReply,
  EmqIdsBody,
  EmqIdsReply,
  EmqPeekReply,
  EmqQueuesReply,
  EmqWaitBody,
  EmqWaitReply,
  QueueName,
} from "./schemas.js";
import { callerTraceContext } from "./task-body.js";

/** Paths of the emq face (for 405 answers). */
export const EMQ_PATHS = [
  "/enqueue/*",
  "/wait/",
  "/wait",
  "/ack/",
  "/ack",
  "/nak/",
  "/nak",
  "/peek/*",
  "/queues/",
  "/queues",
];

/** The queue named by the rest of the path after `prefix` (percent-decoded; one trailing `/` allowed). */
function queueFromPath(c: Context, prefix: string): string {
  let raw = new URL(c.req.url).pathname.slice(prefix.length);
  if (raw.endsWith("/")) raw = raw.slice(0, -1);
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw badRequest("invalid_queue_name", "the queue name in the path is not valid percent-encoding");
  }
  return validateQueueName(name);
}

/** Seconds (0 or absent: unset) to whole milliseconds, at least 1. */
const ms = (seconds: number | undefined): number | undefined =>
  seconds === undefined || seconds === 0 ? undefined : Math.max(1, Math.round(seconds * 1000));

/** Registers the emq endpoints on `app`. */
export function registerEmqRoutes(app: OpenAPIHono, d: RouteDeps): void {
  const { storage, dispatcher, limits } = d;

  app.post("/enqueue/*", async (c) => {
    const queue = queueFromPath(c, "/enqueue/");
    const body = await jsonBody(c, EmqEnqueueBody, limits);
    const retryMs = ms(body.retry);
    const task = newTask(EMQ_TASK_TYPE, body.content ?? null, {
      id: emqTaskId(retryMs),
      deadline: Date.now() + (ms(body.expiry) ?? DEFAULT_EXPIRY_MS),
    });
    const trace = callerTraceContext((h) => c.req.header(h));
    if (trace) task.traceContext = trace;
    if (!(await storage.findQueue(queue))) {
      d.queueCreation.take(queue, true);
      await storage.prepareQueue({ ...d.queueDefaults, name: queue });
    }
    await d.engine.enqueuer.enqueue(task, { queue });
    dispatcher.poke(queue);
    return c.json({ id: task.id }, 200);
  });

  const wait = async (c: Context) => {
    const body = await jsonBody(c, EmqWaitBody, limits);
    const timeout = Math.ceil(body.timeout ?? 0);
    if (timeout > limits.waitTimeoutMs)
      throw badRequest("wait_timeout_too_large", `timeout must be at most ${limits.waitTimeoutMs} ms, got ${timeout}`);
    if (body.queues.length > limits.waitQueues)
      throw badRequest(
        "too_many_queues",
        `queues may hold at most ${limits.waitQueues} entries, got ${body.queues.length}`,
      );
    const tasks = await dispatcher.wait(body.queues, timeout, disconnectSignal(c));
    return c.json(
      tasks.map((t) => (t ? emqView(t) : null)),
      200,
    );
  };
  app.post("/wait/", wait);
  app.post("/wait", wait);

  const settle = (how: "ack" | "nak") => async (c: Context) => {
    const { ids } = await jsonBody(c, EmqIdsBody, limits);
    if (ids.length > limits.ackIds)
      throw badRequest("too_many_ids", `ids may hold at most ${limits.ackIds} ids, got ${ids.length}`);
    const count = how === "ack" ? await dispatcher.ack(ids) : await dispatcher.nak(ids);
    return c.json({ count }, 200);
  };
  app.post("/ack/", settle("ack"));
  app.post("/ack", settle("ack"));
  app.post("/nak/", settle("nak"));
  app.post("/nak", settle("nak"));

  app.get("/peek/*", async (c) => {
    const queue = queueFromPath(c, "/peek/");
    const nText = c.req.query("n") ?? "1";
    if (!/^\d{1,9}$/.test(nText)) throw badRequest("invalid_request", "n must be a non-negative integer");
    const n = Number(nText);
    if (n > limits.peekN) throw badRequest("peek_n_too_large", `n must be at most ${limits.peekN}, got ${n}`);
    const tasks = await storage.peek(queue, n);
    return c.json(tasks.map(emqView), 200);
  });

  const queues = async (c: Context) => c.json(await storage.queueNames(), 200);
  app.get("/queues/", queues);
  app.get("/queues", queues);

  const queueParam = z.object({ queue: QueueName });
  const tag = "emq";
  documentEndpoint(app, {
    method: "post",
    path: "/enqueue/{queue}",
    tag,
    summary: "Enqueue a task (creates the queue when missing, unless the gateway is told not to)",
    description: `The task gets type \`${EMQ_TASK_TYPE}\`, payload = content, deadline = now + expiry.`,
    params: queueParam,
    body: EmqEnqueueBody,
    ok: { status: 200, schema: EmqEnqueueReply, description: "The new task's id" },
  });
  documentEndpoint(app, {
    method: "post",
    path: "/wait/",
    tag,
    summary: "Take one task of each listed queue (long-poll)",
    description:
      "Answers as soon as every entry has a task, or at the timeout with null where an entry has none. " +
      "Returned tasks are dispatched: ack or nak them before their retry timeout.",
    body: EmqWaitBody,
    ok: { status: 200, schema: EmqWaitReply, description: "One entry per queue entry, null when none" },
  });
  for (const how of ["ack", "nak"] as const)
    documentEndpoint(app, {
      method: "post",
      path: `/${how}/`,
      tag,
      summary: how === "ack" ? "Complete dispatched tasks" : "Fail dispatched tasks (tried again later)",
      description: "Nothing is settled unless every id is dispatched by this gateway (else 404 task_not_found).",
      body: EmqIdsBody,
      ok: { status: 200, schema: EmqIdsReply, description: "How many tasks were settled" },
      errors: [404],
    });
  documentEndpoint(app, {
    method: "get",
    path: "/peek/{queue}",
    tag,
    summary: "Up to n tasks of a queue, without dispatching them",
    params: queueParam,
    query: z.object({ n: z.string().optional().openapi({ description: "Most tasks to return (default 1)" }) }),
    ok: { status: 200, schema: EmqPeekReply, description: "Tasks in queue order" },
  });
  documentEndpoint(app, {
    method: "get",
    path: "/queues/",
    tag,
    summary: "Names of all queues",
    ok: { status: 200, schema: EmqQueuesReply, description: "Queue names" },
  });
}
