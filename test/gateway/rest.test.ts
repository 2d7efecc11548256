import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TaskState } from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { collect } from "../support/collect.js";
import { useNatsServer } from "../support/nats.js";
import { startGateway, type TestGateway, uniq } from "./gateway-support.js";

const nats = useNatsServer();
let g: TestGateway;

type Body = Record<string, unknown>;
const errorOf = (body: unknown) => (body as { error: string }).error;

describe("REST API /v1", () => {
  before(async () => {
    await nats.ready;
    g = await startGateway(nats.server);
  });
  after(async () => {
    await g.close();
  });

  it("creates, lists, inspects and purges queues", async () => {
    const q = uniq();
    const created = await g.call("PUT", `/v1/queues/${q}`, { max_concurrent: 5, max_tries: 3 });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, {
      name: q,
      max_age_ms: 0,
      max_entries: 0,
      discard_old: false,
      max_tries: 3,
      max_run_time_ms: 3_600_000,
      max_concurrent: 5,
      redeliver_after_ms: 5_000,
      dead_letters: true,
      dead_letter_retention_ms: 604_800_000,
    });
    const again = await g.call("PUT", `/v1/queues/${q}`, { max_tries: 9 });
    assert.equal(again.status, 200);
    assert.equal((again.body as Body).max_tries, 3, "an existing queue keeps its stored definition");
    assert.ok(((await g.call("GET", "/v1/queues")).body as { queues: string[] }).queues.includes(q));

    for (const n of [1, 2]) await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", payload: n });
    const info = await g.call("GET", `/v1/queues/${q}`);
    assert.equal(info.status, 200);
    assert.equal((info.body as Body).depth, 2);
    assert.equal(((info.body as Body).config as Body).max_concurrent, 5);
    assert.deepEqual((await g.call("POST", `/v1/queues/${q}/purge`)).body, { purged: 2 });

    assert.equal((await g.call("GET", "/v1/queues/nope-never")).status, 404);
    assert.equal(errorOf((await g.call("GET", "/v1/queues/a.b")).body), "invalid_queue_name");
    assert.equal(
      errorOf((await g.call("PUT", `/v1/queues/${uniq()}`, { max_concurrent: 0 })).body),
      "invalid_queue_config",
    );
  });

  it("changes a queue's settings with PATCH, refusing unknown fields and changes that would drop tasks", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, { max_concurrent: 5 });
    const patched = await g.call("PATCH", `/v1/queues/${q}`, { max_concurrent: 7, max_tries: 4, max_entries: 10 });
    assert.equal(patched.status, 200);
    const body = patched.body as { config: Body; changed: string[] };
    assert.deepEqual(body.changed.sort(), ["max_concurrent", "max_entries", "max_tries"]);
    assert.equal(body.config.max_concurrent, 7);
    assert.equal(((await g.call("GET", `/v1/queues/${q}`)).body as { config: Body }).config.max_tries, 4);
    const level = await handlesOf(g.storage).jsm.consumers.info(`JETQ_Q_${q}`, "WORKERS_P5");
    assert.equal(level.config.max_ack_pending, 7, "the consumers take the new max_concurrent at once");
    assert.deepEqual(((await g.call("PATCH", `/v1/queues/${q}`, { max_tries: 4 })).body as Body).changed, []);

    for (const n of [1, 2, 3]) await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", payload: n });
    const refused = await g.call("PATCH", `/v1/queues/${q}`, { max_entries: 2 });
    assert.equal(refused.status, 409);
    assert.equal(errorOf(refused.body), "queue_update_drops_tasks");
    assert.equal(((await g.call("GET", `/v1/queues/${q}`)).body as Body).depth, 3, "nothing was removed");
    assert.equal(errorOf((await g.call("PATCH", `/v1/queues/${q}`, { name: "other" })).body), "invalid_request");
    assert.equal((await g.call("PATCH", `/v1/queues/${uniq()}`, { max_tries: 2 })).status, 404);
  });

  it("enqueues tasks with every option and gets them by id", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {});
    const deadline = "2099-01-01T00:00:00.000Z";
    const r = await g.call("POST", `/v1/queues/${q}/tasks`, {
      type: "email:send",
      payload: { to: "a@example.net" },
      id: "order-42",
      deadline,
      max_tries: 4,
      priority: 1,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const task = (r.body as { task: Body }).task;
    assert.equal(task.id, "order-42");
    assert.equal(task.queue, q);
    assert.equal(task.deadline, deadline);
    assert.equal(task.max_tries, 4);
    assert.equal(task.priority, 1);
    assert.equal(task.state, TaskState.New);

    const got = await g.call("GET", "/v1/tasks/order-42");
    assert.equal(got.status, 200);
    assert.deepEqual((got.body as { task: Body }).task.payload, { to: "a@example.net" });

    const bin = await g.call("POST", `/v1/queues/${q}/tasks`, {
      type: "blob",
      payload_b64: "AAEC",
      deadline: 4102444800000,
    });
    assert.equal(bin.status, 201);
    assert.equal((bin.body as { task: Body }).task.payload_b64, "AAEC");
    const peek = await g.call("GET", `/peek/${q}?n=2`);
    assert.deepEqual((peek.body as Body[])[1], {
      id: (bin.body as { task: Body }).task.id,
      content: null,
      content_b64: "AAEC",
    });

    const bad: [unknown, string][] = [
      [{ type: "a.b" }, "invalid_task_type"],
      [{ type: "t", id: "x y" }, "invalid_id"],
      [{ type: "t", priority: 12 }, "invalid_request"],
      [{ type: "t", deadline: "tomorrow" }, "invalid_deadline"],
      [{ type: "t", payload: 1, payload_b64: "AA==" }, "invalid_request"],
      [{ type: "t", surprise: true }, "invalid_request"],
      [{ payload: 1 }, "invalid_request"],
    ];
    for (const [body, code] of bad) {
      const a = await g.call("POST", `/v1/queues/${q}/tasks`, body);
      assert.equal(a.status, 400, JSON.stringify(body));
      assert.equal(errorOf(a.body), code, JSON.stringify(a.body));
    }
    assert.equal(
      errorOf((await g.call("POST", "/v1/queues/missing-queue/tasks", { type: "t" })).body),
      "queue_not_found",
    );
    assert.equal((await g.call("GET", "/v1/tasks/unknown-task")).status, 404);
    assert.equal(errorOf((await g.call("GET", "/v1/tasks/a.b")).body), "invalid_id");
  });

  it("adds, lists, gets and cancels schedules with the request API's semantics and codes", async () => {
    const sub = collect(g.nc, "gw.test.fired");
    await g.nc.flush();
    const fire = await g.call("POST", "/v1/schedules", { subject: "gw.test.fired", when: "+100ms", payload: "hello" });
    assert.equal(fire.status, 201, JSON.stringify(fire.body));
    await sub.waitFor(1, 10_000);
    assert.equal(new TextDecoder().decode(sub.got[0]!.msg.data), "hello");

    const id = `later-${uniq()}`;
    const added = await g.call("POST", "/v1/schedules", {
      id,
      subject: "gw.test.later",
      when: "+1h",
      payload: "x",
      headers: { "X-Trace": "abc" },
    });
    assert.equal(added.status, 201);
    const view = (added.body as { schedule: Body }).schedule;
    assert.equal(view.id, id);
    assert.deepEqual(view.headers, { "X-Trace": ["abc"] });

    const list = await g.call("GET", "/v1/schedules?limit=1000");
    assert.ok((list.body as { schedules: Body[] }).schedules.some((s) => s.id === id));
    assert.equal(
      ((await g.call("GET", `/v1/schedules/${id}`)).body as { schedule: Body }).schedule.subject,
      "gw.test.later",
    );
    assert.deepEqual((await g.call("DELETE", `/v1/schedules/${id}`)).body, { id });
    const gone = await g.call("GET", `/v1/schedules/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(errorOf(gone.body), "schedule_not_found");

    const bad: [unknown, string][] = [
      [{ subject: "a.b", when: "soon" }, "invalid_when"],
      [{ subject: "a.*", when: "+1s" }, "invalid_subject"],
      [{ subject: "a.b" }, "missing_when"],
      [{ when: "+1s" }, "invalid_request"],
      [{ subject: "a.b", when: "+1s", payload: "x", payload_b64: "eA==" }, "invalid_request"],
      [{ subject: "a.b", every: "often" }, "invalid_every"],
    ];
    for (const [body, code] of bad) {
      const a = await g.call("POST", "/v1/schedules", body);
      assert.equal(a.status, 400, JSON.stringify(body));
      assert.equal(errorOf(a.body), code, JSON.stringify(a.body));
    }
    assert.equal(errorOf((await g.call("GET", "/v1/schedules?limit=0")).body), "invalid_request");
  });

  it("serves an OpenAPI 3.1 document describing every endpoint", async () => {
    const a = await g.call("GET", "/v1/openapi.json");
    assert.equal(a.status, 200);
    const doc = a.body as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    assert.equal(doc.openapi, "3.1.0");
    const expected: [string, string][] = [
      ["/enqueue/{queue}", "post"],
      ["/wait/", "post"],
      ["/ack/", "post"],
      ["/nak/", "post"],
      ["/peek/{queue}", "get"],
      ["/queues/", "get"],
      ["/v1/queues", "get"],
      ["/v1/queues/{queue}", "put"],
      ["/v1/queues/{queue}", "get"],
      ["/v1/queues/{queue}/purge", "post"],
      ["/v1/queues/{queue}/tasks", "post"],
      ["/v1/tasks/{id}", "get"],
      ["/v1/schedules", "post"],
      ["/v1/schedules", "get"],
      ["/v1/schedules/{id}", "get"],
      ["/v1/schedules/{id}", "delete"],
    ];
    for (const [path, method] of expected) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path} documented`);
      assert.ok(op.responses["400"], `${method} ${path} documents its errors`);
    }
    assert.ok(doc.paths["/wait/"]?.post?.requestBody);
    for (const name of ["EmqWait", "EmqEnqueue", "TaskInput", "ScheduleInput", "Error", "QueueInfo"])
      assert.ok(doc.components.schemas[name], `schema ${name}`);
    assert.ok(doc.components.securitySchemes.bearer);
  });
});
