import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Router, type Task, TaskState } from "../../src/index.js";
import { useNatsServer } from "../support/nats.js";
import { withWorker } from "../support/worker.js";
import { startGateway, type TestGateway, uniq } from "./gateway-support.js";

const nats = useNatsServer();
let g: TestGateway;

type TaskBody = Record<string, unknown> & { id: string; state: string };
type Reply = { task: TaskBody; duplicate?: boolean };
const errorOf = (body: unknown) => (body as { error: string }).error;

describe("REST API /v1: delayed tasks and idempotency keys", () => {
  before(async () => {
    await nats.ready;
    g = await startGateway(nats.server); // runs a scheduler, so delayed tasks fire
  });
  after(async () => {
    await g.close();
  });

  it("run_at and delay_ms enqueue delayed tasks that start at their time", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {});
    const startedAt = new Map<string, number>();
    const router = new Router().handle("t", (t: Task) => {
      startedAt.set(t.id, Date.now());
    });
    await withWorker(nats.server.url, { name: q }, router, async (_c, outcome) => {
      const runAt = new Date(Date.now() + 500);
      const r = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", payload: 1, run_at: runAt.toISOString() });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const task = (r.body as Reply).task;
      assert.equal(task.state, TaskState.Delayed);
      assert.equal(task.run_at, runAt.toISOString());
      assert.equal((r.body as Reply).duplicate, undefined, "no dedupe, no duplicate flag");
      assert.equal(((await g.call("GET", `/v1/tasks/${task.id}`)).body as Reply).task.state, TaskState.Delayed);

      const byDelay = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", payload: 2, delay_ms: 300 });
      assert.equal((byDelay.body as Reply).task.state, TaskState.Delayed);
      const epochPast = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", run_at: Date.now() - 1000 });
      assert.equal((epochPast.body as Reply).task.state, TaskState.New, "a past run_at enqueues at once");

      assert.equal((await outcome(task.id)).state, TaskState.Complete);
      assert.ok(startedAt.get(task.id)! >= runAt.getTime(), "not before run_at");
      await outcome((byDelay.body as Reply).task.id);
    });
  });

  it("refuses invalid run times with 400", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {});
    const bad: [unknown, string][] = [
      [{ type: "t", run_at: "tomorrow" }, "invalid_run_at"],
      [{ type: "t", run_at: "1" }, "invalid_run_at"],
      [{ type: "t", run_at: "2030-01-01" }, "invalid_run_at"],
      [{ type: "t", run_at: "2030-01-01T00:00:00Z", delay_ms: 5 }, "invalid_run_at"],
      [{ type: "t", run_at: 8.64e16 }, "invalid_run_at"],
      [{ type: "t", delay_ms: -1 }, "invalid_request"],
      [{ type: "t", delay_ms: "soon" }, "invalid_request"],
    ];
    for (const [body, code] of bad) {
      const a = await g.call("POST", `/v1/queues/${q}/tasks`, body);
      assert.equal(a.status, 400, JSON.stringify(body));
      assert.equal(errorOf(a.body), code, JSON.stringify(a.body));
    }
  });

  it("dedupe: 201 for a new task, 200 with duplicate and the existing task for a throttled one", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {});
    const dedupe = { key: "invoice/7", window_ms: 60_000 };
    const first = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", payload: "a", dedupe });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal((first.body as Reply).duplicate, false);
    const again = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", payload: "b", dedupe });
    assert.equal(again.status, 200);
    assert.equal((again.body as Reply).duplicate, true);
    assert.equal((again.body as Reply).task.id, (first.body as Reply).task.id);
    assert.equal((again.body as Reply).task.payload, "a");
    assert.equal(((await g.call("GET", `/v1/queues/${q}`)).body as { depth: number }).depth, 1);
  });

  it("dedupe debounce: every call gets the pending task, which carries the latest payload", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {});
    const dedupe = { key: "reindex", window_ms: 60_000, mode: "debounce" };
    const first = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", payload: 1, dedupe });
    assert.equal(first.status, 201);
    assert.equal((first.body as Reply).task.state, TaskState.Delayed);
    const second = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", payload: 2, dedupe });
    assert.equal(second.status, 200);
    const t = (second.body as Reply).task;
    assert.equal(t.id, (first.body as Reply).task.id);
    assert.equal(t.payload, 2);
    assert.ok(Date.parse(String(t.run_at)) > Date.parse(String((first.body as Reply).task.run_at)));
  });

  it("refuses invalid idempotency keys, windows and modes with 400", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {});
    const bad: [unknown, string][] = [
      [{ key: "", window_ms: 1000 }, "invalid_dedupe_key"],
      [{ key: "k".repeat(1025), window_ms: 1000 }, "invalid_dedupe_key"],
      [{ key: "k", window_ms: 0 }, "invalid_dedupe_window"],
      [{ key: "k", window_ms: 8 * 86_400_000 }, "invalid_dedupe_window"],
      [{ key: "k", window_ms: 1000, mode: "often" }, "invalid_request"],
      [{ key: "k" }, "invalid_request"],
    ];
    for (const [dedupe, code] of bad) {
      const a = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", dedupe });
      assert.equal(a.status, 400, JSON.stringify(dedupe));
      assert.equal(errorOf(a.body), code, JSON.stringify(a.body));
    }
    const doc = (await g.call("GET", "/v1/openapi.json")).body as { components: { schemas: Record<string, unknown> } };
    for (const name of ["Dedupe", "EnqueueReply"]) assert.ok(doc.components.schemas[name], `schema ${name}`);
  });
});
