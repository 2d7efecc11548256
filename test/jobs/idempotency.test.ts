import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type ClientOptions,
  connectNats,
  type DedupeOptions,
  type JetqEvent,
  newTask,
  Router,
  SchedulerService,
  silentLogger,
  type Task,
  TaskState,
  ValidationError,
} from "../../src/index.js";
import { dedupeKvKey, MAX_DEDUPE_WINDOW_MS } from "../../src/jobs/idempotency.js";
import { DEDUPE_BUCKET } from "../../src/jobs/storage/layout.js";
import { testClient, uniqueQueue } from "../support/client.js";
import { firstMatch, useNatsServer, waitUntil } from "../support/nats.js";
import { storageOn } from "../support/storage.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
const uniq = uniqueQueue;
const client = (queue: string, extra: Partial<ClientOptions> = {}) => testClient(nats.server.url, queue, extra);

/** A router whose `t` handler counts runs and keeps the payload and start time of each task. */
function recorder() {
  const runs = new Map<string, { n: number; payload: unknown; at: number }>();
  const router = new Router().handle("t", (task: Task) => {
    const r = runs.get(task.id);
    runs.set(task.id, { n: (r?.n ?? 0) + 1, payload: task.payload, at: r?.at ?? Date.now() });
  });
  return { runs, router };
}

const isCode = (code: string) => (e: unknown) => e instanceof ValidationError && e.code === code;

describe("idempotency keys: throttle", () => {
  it("within the window returns the existing task, creates nothing, and reports it in events and metrics", async () => {
    const queue = uniq();
    const c = await client(queue, { metricsPort: 0 });
    const events = c.allEvents({ queue });
    try {
      const dedupe: DedupeOptions = { key: "order-42 confirmation ✉", windowMs: 60_000 };
      const first = newTask("t", { v: 1 });
      const got1 = await c.enqueue(first, { dedupe });
      assert.equal(got1.id, first.id);
      const second = newTask("t", { v: 2 });
      const got2 = await c.enqueue(second, { dedupe });
      assert.equal(got2.id, first.id, "the caller gets the existing task's id");
      assert.deepEqual(got2.payload, { v: 1 }, "and its data");
      assert.equal((await c.admin.queueInfo(queue)).depth, 1);
      await assert.rejects(c.loadTask(second.id), /not found/);

      const ev = await firstMatch(events, (e: JetqEvent) => e.type === "jetq.v1.queue" && e.action === "deduplicated");
      assert.equal("taskId" in ev ? ev.taskId : undefined, first.id);
      assert.deepEqual("detail" in ev ? ev.detail : undefined, { mode: "throttle" });
      const metrics = await (await fetch(c.metricsUrl!)).text();
      assert.match(metrics, new RegExp(`jetq_queue_events_total\\{queue="${queue}",action="deduplicated"\\} 1`));

      // Keys are per queue.
      const elsewhere = newTask("t", { v: 3 });
      await c.admin.prepareQueue({ name: `${queue}b` });
      assert.equal((await c.enqueue(elsewhere, { dedupe, queue: `${queue}b` })).id, elsewhere.id);
    } finally {
      events.close();
      await c.close();
    }
  });

  it("after the window a new enqueue creates a new task", async () => {
    const { runs, router } = recorder();
    await withWorker(nats.server.url, { name: uniq() }, router, async (c, outcome) => {
      const dedupe = { key: "k", windowMs: 300 };
      const a = await c.enqueue(newTask("t", "a"), { dedupe });
      const claimedAt = Date.now();
      assert.equal((await c.enqueue(newTask("t", "dup"), { dedupe })).id, a.id);
      await outcome(a.id);
      await waitUntil(() => Date.now() > claimedAt + 300, 5000, "the window's end");
      const b = newTask("t", "b");
      assert.equal((await c.enqueue(b, { dedupe })).id, b.id);
      await outcome(b.id);
      assert.deepEqual([runs.get(a.id)?.n, runs.get(b.id)?.n, runs.size], [1, 1, 2]);
    });
  });

  it("20 concurrent enqueues with one key create one task and all answer its id", async () => {
    const queue = uniq();
    const producers = await Promise.all(Array.from({ length: 4 }, () => client(queue)));
    try {
      const dedupe = { key: "burst", windowMs: 60_000 };
      const got = await Promise.all(
        Array.from({ length: 20 }, (_, i) => producers[i % 4]!.enqueue(newTask("t", i), { dedupe })),
      );
      assert.equal(new Set(got.map((t) => t.id)).size, 1);
      assert.equal((await producers[0]!.admin.queueInfo(queue)).depth, 1);
    } finally {
      await Promise.all(producers.map((p) => p.close()));
    }
  });

  it("takes over a key whose claimer crashed before its task appeared", async () => {
    const queue = uniq();
    const c = await client(queue);
    try {
      const dedupe = { key: "orphan", windowMs: 60_000 };
      await c.enqueue(newTask("t", 0), { dedupe: { key: "warm-up", windowMs: 1000 } }); // creates the bucket
      const kv = await new Kvm(c.nc).open(DEDUPE_BUCKET);
      const now = Date.now();
      const claim = { task_id: "never-written", until: now + 60_000, mode: "throttle", written: now - 30_000 };
      await kv.put(dedupeKvKey(queue, dedupe.key), JSON.stringify(claim));
      const t = newTask("t", "takes over");
      assert.equal((await c.enqueue(t, { dedupe })).id, t.id);
      assert.equal((await c.enqueue(newTask("t", "dup"), { dedupe })).id, t.id);
    } finally {
      await c.close();
    }
  });

  it("refuses bad keys, windows and modes, and combinations it cannot honour, with typed errors", async () => {
    const c = await client(uniq());
    try {
      const bad: [DedupeOptions, string][] = [
        [{ key: "", windowMs: 1000 }, "invalid_dedupe_key"],
        [{ key: "x".repeat(1025), windowMs: 1000 }, "invalid_dedupe_key"],
        [{ key: 5 as unknown as string, windowMs: 1000 }, "invalid_dedupe_key"],
        [{ key: "k", windowMs: 0 }, "invalid_dedupe_window"],
        [{ key: "k", windowMs: 1.5 }, "invalid_dedupe_window"],
        [{ key: "k", windowMs: MAX_DEDUPE_WINDOW_MS + 1 }, "invalid_dedupe_window"],
        [{ key: "k", windowMs: 1000, mode: "sometimes" as "throttle" }, "invalid_dedupe_mode"],
      ];
      for (const [dedupe, code] of bad) await assert.rejects(c.enqueue(newTask("t", 1), { dedupe }), isCode(code));
      const dep = await c.enqueue(newTask("t", 0));
      await assert.rejects(
        c.enqueue(newTask("t", 1, { dependsOn: [dep.id] }), { dedupe: { key: "k", windowMs: 1000 } }),
        isCode("unsupported"),
      );
      await assert.rejects(
        c.enqueue(newTask("t", 1, { delayMs: 10 }), { dedupe: { key: "k", windowMs: 1000, mode: "debounce" } }),
        isCode("unsupported"),
      );
      await c.enqueue(newTask("t", 1), { dedupe: { key: "mixed", windowMs: 60_000 } });
      await assert.rejects(
        c.enqueue(newTask("t", 2), { dedupe: { key: "mixed", windowMs: 60_000, mode: "debounce" } }),
        isCode("dedupe_mode_conflict"),
      );
      const outboxed = await client(c.queue.name, {
        connection: c.nc,
        outbox: { publish: async () => undefined },
      });
      await assert.rejects(
        outboxed.enqueue(newTask("t", 1), { dedupe: { key: "k", windowMs: 1000 } }),
        isCode("unsupported"),
      );
      await outboxed.close();
    } finally {
      await c.close();
    }
  });
});

describe("idempotency keys: debounce", () => {
  let nc: NatsConnection;
  let scheduler: SchedulerService;
  before(async () => {
    nc = await connectNats({ servers: nats.server.url });
    scheduler = new SchedulerService({ storage: await storageOn(nc), log: silentLogger, name: `t-${randomUUID()}` });
    await scheduler.start();
  });
  after(async () => {
    await scheduler.stop();
    await nc.drain();
  });

  it("three quick enqueues run once, windowMs after the last, with the last payload; all get one id", async () => {
    const { runs, router } = recorder();
    await withWorker(nats.server.url, { name: uniq() }, router, async (c, outcome) => {
      const dedupe: DedupeOptions = { key: "search-index", windowMs: 600, mode: "debounce" };
      const a = await c.enqueue(newTask("t", "first"), { dedupe });
      assert.equal(a.state, TaskState.Delayed);
      const b = await c.enqueue(newTask("t", "second"), { dedupe });
      const lastAt = Date.now();
      const last = await c.enqueue(newTask("t", "third"), { dedupe });
      assert.deepEqual([b.id, last.id], [a.id, a.id]);
      assert.equal((await c.loadTask(a.id)).payload, "third", "the record carries the latest payload");
      await outcome(a.id);
      const run = runs.get(a.id)!;
      assert.equal(run.payload, "third");
      assert.ok(run.at >= lastAt + 600, `ran ${lastAt + 600 - run.at} ms before the window after the last enqueue`);
      // A marker behind it: a second run of the first version would have happened by now.
      const marker = await c.enqueue(newTask("t", "marker", { delayMs: 300 }));
      await outcome(marker.id);
      assert.deepEqual([run.n, runs.size], [1, 2]);
    });
  });

  it("concurrent enqueues with one key create one task; a key whose task ran starts a new one", async () => {
    const { runs, router } = recorder();
    await withWorker(nats.server.url, { name: uniq() }, router, async (c, outcome) => {
      const dedupe: DedupeOptions = { key: "burst", windowMs: 1500, mode: "debounce" };
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => c.enqueue(newTask("t", i), { dedupe })));
      const ids = new Set(got.map((t) => t.id));
      assert.equal(ids.size, 1);
      const [id] = ids;
      await outcome(id!);
      assert.equal(runs.get(id!)?.n, 1);
      const again = newTask("t", "after");
      assert.equal((await c.enqueue(again, { dedupe })).id, again.id, "the window ended with the run");
      await outcome(again.id);
    });
  });
});
