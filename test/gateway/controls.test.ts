import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newTask, Router, TaskState } from "../../src/index.js";
import { deferred, useNatsServer, waitUntil } from "../support/nats.js";
import { startGateway, type TestGateway, uniq } from "./gateway-support.js";

const nats = useNatsServer();
let g: TestGateway;

type Body = Record<string, unknown>;
const errorOf = (body: unknown) => (body as { error: string }).error;

describe("REST controls: pause, rate limits, cancel, progress and logs", () => {
  before(async () => {
    await nats.ready;
    g = await startGateway(nats.server);
  });
  after(async () => {
    await g.close();
  });

  it("pauses and resumes a queue for HTTP consumers, shown in queue info", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {});
    const paused = await g.call("POST", `/v1/queues/${q}/pause`);
    assert.equal(paused.status, 200);
    assert.equal((paused.body as Body).paused, true);
    assert.equal(typeof (paused.body as Body).paused_at, "string");
    const id = ((await g.call("POST", `/enqueue/${q}`, { content: { n: 1 } })).body as { id: string }).id;
    const waited = await g.call("POST", "/wait/", { queues: [q], timeout: 300 });
    assert.deepEqual(waited.body, [null], "a paused queue hands nothing out");
    const info = (await g.call("GET", `/v1/queues/${q}`)).body as Body;
    assert.equal((info.controls as Body).paused, true);
    assert.deepEqual(info.pending_by_priority, [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert.equal(((await g.call("POST", `/v1/queues/${q}/resume`)).body as Body).paused, false);
    const got = (await g.call("POST", "/wait/", { queues: [q], timeout: 5000 })).body as { id: string }[];
    assert.equal(got[0]?.id, id);
    assert.equal((await g.call("POST", "/ack/", { ids: [id] })).status, 200);
    assert.equal((await g.call("POST", "/v1/queues/nope-nope/pause")).status, 404);
    assert.equal(errorOf((await g.call("POST", "/v1/queues/a.b/pause")).body), "invalid_queue_name");
    assert.equal((await g.call("GET", `/v1/queues/${q}/pause`)).status, 405);
  });

  it("sets and removes a rate limit; a library worker follows it", async () => {
    const q = uniq();
    const c = await g.client(q, { concurrency: 4 });
    const set = await g.call("PUT", `/v1/queues/${q}/rate-limit`, { limit: 2, interval_ms: 300 });
    assert.equal(set.status, 200);
    assert.deepEqual((set.body as Body).rate_limit, { limit: 2, interval_ms: 300 });
    assert.equal(
      errorOf((await g.call("PUT", `/v1/queues/${q}/rate-limit`, { limit: 0, interval_ms: 5 })).body),
      "invalid_request",
    );
    const starts: number[] = [];
    const ac = new AbortController();
    const run = c.run(
      new Router().handle("t", () => void starts.push(Date.now())),
      { signal: ac.signal },
    );
    const t0 = Date.now();
    await c.enqueueMany(Array.from({ length: 6 }, () => newTask("t", null)));
    await waitUntil(() => starts.length === 6, 10_000, "six started");
    // Windows are fixed and aligned to the epoch: the first two starts come from the window the
    // worker began in (which ends less than 300 ms after t0), the last two from the one after next,
    // which begins more than 300 ms after t0. (Counting starts per window instead would be racy:
    // a start granted at the end of a window can run just after it, beside the next window's.)
    const last = Math.max(...starts);
    assert.ok(last - t0 >= 300, `six starts at two per 300 ms window took ${last - t0} ms`);
    const removed = await g.call("DELETE", `/v1/queues/${q}/rate-limit`);
    assert.equal((removed.body as Body).rate_limit, undefined);
    ac.abort();
    await run;
  });

  it("cancels a task, shows progress and serves its log lines", async () => {
    const q = uniq();
    const c = await g.client(q);
    const started = deferred();
    const router = new Router().handle("long", async (_t, ctx) => {
      await ctx.progress(25);
      await ctx.appendLog("step one");
      started.resolve();
      await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
    });
    const ac = new AbortController();
    const run = c.run(router, { signal: ac.signal });
    const t = await c.enqueue(newTask("long", null));
    await started.promise;
    const view = (await g.call("GET", `/v1/tasks/${t.id}?logs=true`)).body as { task: Body };
    assert.equal(view.task.progress, 25);
    assert.deepEqual(
      (view.task.logs as Body[]).map((l) => l.line),
      ["step one"],
    );
    const logs = (await g.call("GET", `/v1/tasks/${t.id}/logs`)).body as { lines: Body[] };
    assert.equal(logs.lines[0]?.line, "step one");
    assert.equal(typeof logs.lines[0]?.at, "string");
    const cancelled = await g.call("POST", `/v1/tasks/${t.id}/cancel`);
    assert.equal(cancelled.status, 200);
    await waitUntil(async () => (await c.loadTask(t.id)).state === TaskState.Cancelled, 5000, "cancelled");
    const again = await g.call("POST", `/v1/tasks/${t.id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(errorOf(again.body), "task_finished");
    assert.equal((await g.call("POST", "/v1/tasks/nope/cancel")).status, 404);
    ac.abort();
    await run;

    // A task dispatched to an HTTP consumer is settled as cancelled at once; its late ack finds nothing.
    const id = ((await g.call("POST", `/enqueue/${q}`, { content: 1 })).body as { id: string }).id;
    const [got] = (await g.call("POST", "/wait/", { queues: [q], timeout: 5000 })).body as { id: string }[];
    assert.equal(got?.id, id);
    assert.equal((await g.call("POST", `/v1/tasks/${id}/cancel`)).status, 200);
    await waitUntil(
      async () => (await c.loadTask(id)).state === TaskState.Cancelled,
      5000,
      "dispatched task cancelled",
    );
    await waitUntil(async () => (await g.call("POST", "/ack/", { ids: [id] })).status === 404, 5000, "lease gone");
    assert.equal(errorOf((await g.call("GET", "/v1/tasks/a.b/logs")).body), "invalid_id");
  });
});
