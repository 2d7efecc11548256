import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { headers } from "@nats-io/nats-core";
import { HttpGateway } from "../../src/gateway/http-server.js";
import { Client, connectNats, newTask, Router, silentLogger, TaskState, TerminateTask } from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { JetStreamStorage } from "../../src/jobs/storage/jetstream-storage.js";
import { encodeTask, recordHeaders } from "../../src/jobs/storage/task-codec.js";
import { TASKS_LIST_API } from "../../src/jobs/task-list.js";
import { JetqService } from "../../src/server/jetq-service.js";
import { finalOutcomes, useNatsServer, waitUntil } from "../support/nats.js";

const nats = useNatsServer();

interface Page {
  tasks: { id: string; state: string; type: string; queue: string }[];
  next_cursor?: string;
}

describe("the task index of jetq serve", () => {
  let service: JetqService;
  let url: string;
  let client: Client;
  const rest = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const natsApi = async (body: unknown): Promise<Record<string, unknown>> => {
    const m = await client.nc.request(TASKS_LIST_API, JSON.stringify(body), { timeout: 5000 });
    return m.json();
  };

  before(async () => {
    await nats.ready;
    // Records stored before jetq serve starts: the index is rebuilt from them.
    const nc = await connectNats({ servers: nats.server.url });
    const storage = await JetStreamStorage.open(nc, {}, silentLogger);
    await storage.prepare();
    await storage.prepareQueue({ name: "old" });
    for (let i = 0; i < 30; i++) {
      const t = newTask(i % 3 === 0 ? "report" : "mail", { i }, { id: `old-${String(i).padStart(2, "0")}` });
      t.queue = "old";
      t.state = i < 20 ? TaskState.Complete : TaskState.Expired;
      // Half of the records carry the index headers (as written since they exist), the others
      // (as older versions wrote them) are read from their bodies.
      await handlesOf(storage).acks.publish(
        `jetq.task.${t.id}`,
        encodeTask(t),
        i % 2 === 0 ? recordHeaders(t) : headers(),
      );
    }
    // One tombstone: a discarded task is not listed.
    await storage.saveTombstone({ ...newTask("mail", {}, { id: "old-05" }), queue: "old", state: TaskState.Complete });
    storage.close();
    await nc.close();
    service = new JetqService({
      nats: { servers: nats.server.url },
      http: { host: "127.0.0.1", port: 0 },
      log: silentLogger,
    });
    await service.start();
    await service.dashboard!.catalog.whenReady();
    url = service.gateway!.url;
    client = await Client.connect({
      servers: nats.server.url,
      queue: "live",
      logger: silentLogger,
      retryPolicy: () => 10,
    });
  });
  after(async () => {
    await client.close();
    await service.stop();
  });

  it("rebuilds from the stored records at start, with or without their headers", async () => {
    const done = await rest("/v1/tasks?queue=old&state=complete&limit=100");
    assert.equal(done.status, 200);
    const ids = (done.body as unknown as Page).tasks.map((t) => t.id);
    assert.equal(ids.length, 19, "20 complete records, one of them discarded");
    assert.ok(!ids.includes("old-05"));
    assert.deepEqual(ids.slice(0, 3), ["old-19", "old-18", "old-17"], "most recently written first");
    const reports = await rest("/v1/tasks?queue=old&state=expired&type=report");
    assert.deepEqual(
      (reports.body as unknown as Page).tasks.map((t) => t.id),
      ["old-27", "old-24", "old-21"],
    );
    const counts = (await service.dashboard!.overview()).queues.find((q) => q.name === "old")!.counts;
    assert.equal(counts.complete, 19);
    assert.equal(counts.expired, 10);
  });

  it("pages through a state with a cursor, over REST and NATS alike", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 10; n++) {
      const qs = new URLSearchParams({ queue: "old", state: "complete", limit: "7", ...(cursor ? { cursor } : {}) });
      const page = (await rest(`/v1/tasks?${qs}`)).body as unknown as Page;
      const viaNats = await natsApi({ queue: "old", state: "complete", limit: 7, ...(cursor ? { cursor } : {}) });
      assert.equal(viaNats.ok, true);
      assert.deepEqual(viaNats.tasks, page.tasks, "the NATS API answers what REST answers");
      assert.equal(viaNats.next_cursor, page.next_cursor);
      seen.push(...page.tasks.map((t) => t.id));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    assert.equal(seen.length, 19);
    assert.equal(new Set(seen).size, 19, "no task twice");
  });

  it("follows live: waiting tasks from the queue, the other states from the events", async () => {
    const finals = finalOutcomes(client.events({ final: true, queue: "live" }));
    const waiting = await client.enqueueMany(Array.from({ length: 5 }, (_, i) => newTask("mail", { i })));
    const w = (await rest("/v1/tasks?queue=live&state=new")).body as unknown as Page;
    assert.deepEqual(
      w.tasks.map((t) => t.id),
      waiting.map((t) => t.id).reverse(),
      "waiting tasks, newest enqueued first",
    );
    assert.deepEqual(((await rest("/v1/tasks?queue=live&state=new&type=report")).body as unknown as Page).tasks, []);
    const ac = new AbortController();
    const run = client.run(
      new Router().handle("mail", async (t) => {
        if ((t.payload as { i: number }).i === 4) throw new TerminateTask("no such mailbox");
        return "sent";
      }),
      { signal: ac.signal },
    );
    try {
      for (const t of waiting) await finals.reached(t.id);
      // The final events reach the index right after the record: wait for them, not for time.
      await waitUntil(() => service.dashboard!.catalog.index.get(waiting[4]!.id)?.state === TaskState.Terminated);
      await waitUntil(() =>
        waiting.slice(0, 4).every((t) => service.dashboard!.catalog.index.get(t.id)?.state === TaskState.Complete),
      );
      const done = (await rest("/v1/tasks?queue=live&state=complete")).body as unknown as Page;
      assert.deepEqual(
        done.tasks.map((t) => t.id).sort(),
        waiting
          .slice(0, 4)
          .map((t) => t.id)
          .sort(),
      );
      const failed = await natsApi({ queue: "live", state: "terminated" });
      assert.deepEqual(
        (failed.tasks as Page["tasks"]).map((t) => t.id),
        [waiting[4]!.id],
      );
      assert.deepEqual(((await rest("/v1/tasks?queue=live&state=new")).body as unknown as Page).tasks, []);
      const one = (await rest(`/v1/tasks?id=${waiting[2]!.id}`)).body as unknown as Page;
      assert.equal(one.tasks[0]?.state, "complete");
      // Without a state: waiting tasks first, then the rest by their latest change.
      const more = await client.enqueue(newTask("other", {}, { runAt: Date.now() + 3_600_000 }));
      await waitUntil(() => service.dashboard!.catalog.index.get(more.id)?.state === TaskState.Delayed);
      const everything = (await rest("/v1/tasks?queue=live&limit=100")).body as unknown as Page;
      assert.equal(everything.tasks[0]?.id, more.id);
      assert.equal(everything.tasks.length, 6);
    } finally {
      ac.abort();
      await run;
      finals.close();
    }
  });

  it("tells workers and jetq serve instances apart by their heartbeats", async () => {
    const ac = new AbortController();
    const run = client.run(
      new Router().handle("x", () => 1),
      { signal: ac.signal },
    );
    try {
      await waitUntil(() => service.dashboard!.instances.list().workers.some((w) => w.queues.includes("live")));
      const w = await service.dashboard!.workers();
      assert.equal(w.workers[0]!.pid, process.pid);
      assert.equal(w.workers[0]!.concurrency, 10);
      assert.equal(w.serves.length, 1);
      assert.equal(w.serves[0]!.roles.scheduler, "leader");
      assert.equal(w.serves[0]!.roles.gateway, url);
    } finally {
      ac.abort();
      await run;
    }
    assert.equal(service.dashboard!.instances.list().workers.length, 0, "a stopping worker says so");
  });

  it("refuses malformed queries with a code, over REST and NATS", async () => {
    for (const [qs, body, code] of [
      ["state=bogus", { state: "bogus" }, "invalid_state"],
      ["queue=a.b", { queue: "a.b" }, "invalid_queue_name"],
      ["limit=0", { limit: 0 }, "invalid_limit"],
      ["cursor=x.1", { cursor: "x.1" }, "invalid_cursor"],
    ] as const) {
      const r = await rest(`/v1/tasks?${qs}`);
      assert.equal(r.status, 400, qs);
      assert.equal(r.body.error, code, qs);
      const n = await natsApi(body);
      assert.deepEqual(n.ok, false);
      assert.equal((n.error as { code: string }).code, code);
    }
    assert.equal((await rest("/v1/tasks?bogus=1")).status, 400);
    const notJson = await client.nc.request(TASKS_LIST_API, "{", { timeout: 5000 });
    assert.equal(notJson.json<{ error: { code: string } }>().error.code, "invalid_json");
    const doc = (await rest("/v1/openapi.json")).body as { paths: Record<string, unknown> };
    assert.ok(doc.paths["/v1/tasks"], "documented in the OpenAPI document");
  });

  it("runs bulk actions step by step and refuses those that do not fit the state", async () => {
    const d = service.dashboard!;
    await assert.rejects(d.bulk("old", "retry", TaskState.Active, 10), /cannot retry the active tasks/);
    await assert.rejects(d.bulk("old", "cancel", TaskState.Complete, 10), /cannot cancel/);
    await assert.rejects(d.bulk("old", "delete", TaskState.New, 10), /purge the queue instead/);
    const first = await d.bulk("old", "delete", TaskState.Expired, 4);
    assert.deepEqual([first.done, first.failed, first.more], [4, 0, true]);
    let left = 10 - 4;
    for (
      let r = await d.bulk("old", "delete", TaskState.Expired, 4);
      ;
      r = await d.bulk("old", "delete", TaskState.Expired, 4)
    ) {
      left -= r.done;
      if (!r.more) break;
    }
    assert.equal(left, 0);
    assert.equal((await d.overview()).queues.find((q) => q.name === "old")!.counts.expired, 0);
    assert.equal(((await rest("/v1/tasks?queue=old&state=expired")).body as unknown as Page).tasks.length, 0);
  });

  it("with the dashboard off, keeps /v1/tasks and serves no /ui", async () => {
    const gw = new HttpGateway({
      engine: client.engine,
      dashboard: service.dashboard!,
      ui: { enabled: false },
      log: silentLogger,
      port: 0,
    });
    await gw.start();
    try {
      assert.equal((await fetch(`${gw.url}/ui/`)).status, 404);
      assert.equal((await fetch(`${gw.url}/ui/api/overview`)).status, 404);
      assert.equal((await fetch(`${gw.url}/v1/tasks?queue=old&state=expired`)).status, 200);
    } finally {
      await gw.stop();
    }
    // And on the service's own gateway the page is there.
    const page = await fetch(`${url}/ui/queues/old`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="app">/);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  });

  it("sweeps records deleted behind its back at the next rebuild", async () => {
    const storage = await JetStreamStorage.open(client.nc, {}, silentLogger);
    await handlesOf(storage).jsm.streams.purge("JETQ_TASKS", { filter: "jetq.task.old-00" });
    storage.close();
    assert.equal(service.dashboard!.catalog.index.get("old-00")?.state, TaskState.Complete);
    await service.dashboard!.catalog.reconcile();
    assert.equal(service.dashboard!.catalog.index.get("old-00"), undefined);
  });
});
