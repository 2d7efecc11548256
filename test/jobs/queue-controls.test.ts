import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import {
  Client,
  type ClientOptions,
  type JetqEvent,
  newTask,
  QUEUE_EVENT,
  type QueueConfig,
  RateLimitError,
  Router,
  SchedulerService,
  StateError,
  silentLogger,
  TASK_LOG_EVENT,
  TASK_PROGRESS_EVENT,
  TaskCancelledError,
  TaskState,
} from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { levelConsumer, queueStream } from "../../src/jobs/storage/layout.js";
import { JetqMetrics } from "../../src/metrics/jetq-metrics.js";
import { deferred, firstMatch, useNatsServer, waitUntil } from "../support/nats.js";
import { storageOn } from "../support/storage.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
const uniq = () => `q${randomUUID().slice(0, 8)}`;

async function client(queue: QueueConfig | string, extra: Partial<ClientOptions> = {}): Promise<Client> {
  return Client.connect({ servers: nats.server.url, queue, logger: silentLogger, retryPolicy: () => 20, ...extra });
}

/** Items a priority level's consumer has handed out and not yet had settled. */
async function delivered(c: Client, queue: string, level: number): Promise<number> {
  return (await handlesOf(c.storage).jsm.consumers.info(queueStream(queue), levelConsumer(level))).num_ack_pending;
}

describe("priorities", () => {
  it("starts the most urgent waiting tasks first", async () => {
    const q = uniq();
    const started: string[] = [];
    const gate = deferred();
    const router = new Router()
      .handle("gate", () => gate.promise)
      .handle("work", (t) => {
        started.push(t.payload as string);
      });
    await withWorker(
      nats.server.url,
      { name: q },
      router,
      async (c, outcome) => {
        // Three gates hold every slot while work of three levels arrives and is buffered.
        const gates = await c.enqueueMany([0, 1, 2].map(() => newTask("gate", null, { priority: 0 })));
        await waitUntil(async () => (await delivered(c, q, 0)) === 3, 10_000, "gates running");
        const work = [];
        for (const priority of [9, 5, 1]) {
          for (const n of [1, 2, 3]) work.push(newTask("work", `p${priority}-${n}`, { priority }));
        }
        await c.enqueueMany(work);
        await waitUntil(
          async () => (await Promise.all([1, 5, 9].map((l) => delivered(c, q, l)))).every((n) => n === 3),
          10_000,
          "work buffered",
        );
        gate.resolve();
        for (const t of [...gates, ...work]) await outcome(t.id);
        assert.deepEqual(started, ["p1-1", "p1-2", "p1-3", "p5-1", "p5-2", "p5-3", "p9-1", "p9-2", "p9-3"]);
        const info = await c.admin.queueInfo(q);
        assert.deepEqual(info.pendingByPriority, Array(10).fill(0));
      },
      { concurrency: 3 },
    );
  });

  it("reports waiting work by priority level", async () => {
    const c = await client(uniq());
    try {
      await c.enqueueMany([
        newTask("x", 1, { priority: 0 }),
        newTask("x", 2, { priority: 7 }),
        newTask("x", 3, { priority: 7 }),
      ]);
      const info = await c.admin.queueInfo(c.queue.name);
      assert.deepEqual(info.pendingByPriority, [1, 0, 0, 0, 0, 0, 0, 2, 0, 0]);
      assert.equal(info.pending, 3);
    } finally {
      await c.close();
    }
  });

  it("serves several queues strictly by weight", async () => {
    const [heavy, light] = [uniq(), uniq()];
    const c = await client(heavy, { concurrency: 5 });
    const other = await client(light);
    const order: string[] = [];
    const gate = deferred();
    const all = deferred();
    const router = new Router()
      .handle("gate", () => gate.promise)
      .handle("job", (t) => {
        order.push(t.payload as string);
        if (order.length === 10) all.resolve();
      });
    const ac = new AbortController();
    const done = c.run(router, { signal: ac.signal, queues: { [light]: 1, [heavy]: 5 }, strict: true });
    try {
      // Five gates hold every slot while both queues' work arrives and is buffered.
      await c.enqueueMany(Array.from({ length: 5 }, () => newTask("gate", null, { priority: 0 })));
      await waitUntil(async () => (await delivered(c, heavy, 0)) === 5, 10_000, "gates running");
      await c.enqueueMany(Array.from({ length: 5 }, (_, i) => newTask("job", `h${i}`)));
      await other.enqueueMany(Array.from({ length: 5 }, (_, i) => newTask("job", `l${i}`)));
      await waitUntil(
        async () => (await delivered(c, heavy, 5)) === 5 && (await delivered(c, light, 5)) === 5,
        10_000,
        "work buffered",
      );
      gate.resolve();
      await all.promise;
      assert.deepEqual(order, ["h0", "h1", "h2", "h3", "h4", "l0", "l1", "l2", "l3", "l4"]);
      await assert.rejects(c.run(router, { queues: { [light]: 0 } }), { code: "invalid_weight" });
      await assert.rejects(c.run(router, { queues: ["nope-missing"] }), { code: "queue_not_found" });
    } finally {
      ac.abort();
      await done;
      await other.close();
      await c.close();
    }
  });

  it("shares slots between queues in proportion to their weights", async () => {
    const [heavy, light] = [uniq(), uniq()];
    const c = await client(heavy, { concurrency: 2 });
    const other = await client(light);
    const order: string[] = [];
    const router = new Router().handle("job", async (t) => {
      order.push(t.queue);
      await new Promise((r) => setTimeout(r, 2));
    });
    const ac = new AbortController();
    try {
      await c.enqueueMany(Array.from({ length: 60 }, () => newTask("job", null)));
      await other.enqueueMany(Array.from({ length: 60 }, () => newTask("job", null)));
      const done = c.run(router, { signal: ac.signal, queues: { [light]: 1, [heavy]: 3 } });
      await waitUntil(() => order.length >= 60, 20_000, "60 tasks run");
      ac.abort();
      await done;
      const heavyShare = order.slice(0, 60).filter((q) => q === heavy).length / 60;
      // Expected 0.75; the bounds are more than four standard deviations wide.
      assert.ok(heavyShare > 0.5 && heavyShare < 0.97, `heavy share ${heavyShare}`);
    } finally {
      ac.abort();
      await other.close();
      await c.close();
    }
  });
});

describe("pause and resume", () => {
  it("stops taking new work while paused, lets running work finish, and survives restarts", async () => {
    const q = uniq();
    const watcher = await client(q);
    const events = watcher.allEvents({ queue: q });
    const running = deferred();
    const finish = deferred();
    const ran: string[] = [];
    const router = new Router().handle("job", async (t) => {
      ran.push(t.payload as string);
      if (t.payload === "long") {
        running.resolve();
        await finish.promise;
      }
    });
    await withWorker(nats.server.url, { name: q }, router, async (c, outcome) => {
      const long = await c.enqueue(newTask("job", "long"));
      await running.promise;
      const controls = await c.pauseQueue();
      assert.ok(controls.paused);
      const paused = await firstMatch(events, (e: JetqEvent) => e.type === QUEUE_EVENT && e.action === "paused");
      assert.equal(paused.type === QUEUE_EVENT && paused.queue, q);
      const later = await c.enqueue(newTask("job", "later"));
      finish.resolve();
      assert.equal((await outcome(long.id)).state, TaskState.Complete, "running work finishes");
      // A second client (a restart) sees the pause, and its worker takes nothing either.
      const fresh = await client(q);
      const metrics = new JetqMetrics(fresh.storage);
      fresh.storage.observer = metrics;
      await fresh.pauseQueue(); // already paused: unchanged, but counted by this process's metrics
      const text = await metrics.text();
      assert.match(text, new RegExp(`jetq_queue_paused\\{queue="${q}"\\} 1`));
      assert.match(text, new RegExp(`jetq_queue_events_total\\{queue="${q}",action="paused"\\} 1`));
      assert.ok((await fresh.queueControls()).paused);
      const info = await fresh.admin.queueInfo(q);
      assert.ok(info.controls.paused);
      const ac = new AbortController();
      const second = fresh.run(router, { signal: ac.signal });
      await waitUntil(async () => (await c.admin.queueInfo(q)).inFlight === 0, 10_000, "nothing held");
      assert.equal((await c.loadTask(later.id)).state, TaskState.New);
      assert.deepEqual(ran, ["long"]);
      await c.resumeQueue();
      await firstMatch(events, (e) => e.type === QUEUE_EVENT && e.action === "resumed");
      assert.equal((await outcome(later.id)).state, TaskState.Complete);
      ac.abort();
      await second;
      await fresh.close();
    });
    events.close();
    await watcher.close();
  });

  it("refuses controls of a queue that does not exist", async () => {
    const c = await client(uniq());
    try {
      await assert.rejects(c.pauseQueue("missing-queue"), { code: "queue_not_found" });
      await assert.rejects(c.setRateLimit(c.queue.name, { limit: 0, intervalMs: 1000 }), {
        code: "invalid_rate_limit",
      });
    } finally {
      await c.close();
    }
  });
});

describe("rate limits", () => {
  it("starts at most `limit` tasks per window across workers of two processes", async () => {
    const q = uniq();
    const a = await client(q, { concurrency: 5 });
    const b = await client(q, { concurrency: 5 });
    const starts: number[] = [];
    const limit = { limit: 3, intervalMs: 400 };
    await a.setRateLimit(q, limit);
    const router = new Router().handle("job", () => {
      starts.push(Date.now());
    });
    const ac = new AbortController();
    const runs = [a.run(router, { signal: ac.signal }), b.run(router, { signal: ac.signal })];
    try {
      const t0 = Date.now();
      const tasks = await a.enqueueMany(Array.from({ length: 9 }, (_, i) => newTask("job", i)));
      await waitUntil(() => starts.length === tasks.length, 20_000, "all started");
      // Starts are granted per window of the limiter; a handler starts a few ms after its grant, so
      // one granted at the end of a window may start in the next. What must hold: no interval of
      // one window's length sees more than two windows' grants, and nine tasks take three windows:
      // the first grants come from the window current at t0 (it ends less than a window after t0),
      // the last from the one after next (it begins more than a window after t0).
      const sorted = [...starts].sort((x, y) => x - y);
      const busiest = Math.max(
        ...sorted.map((t, i) => sorted.filter((u, j) => j >= i && u - t < limit.intervalMs).length),
      );
      assert.ok(
        busiest <= 2 * limit.limit,
        `${busiest} starts within ${limit.intervalMs} ms: ${sorted.map((t) => t - sorted[0]!)}`,
      );
      assert.ok(
        sorted.at(-1)! - t0 >= limit.intervalMs,
        `nine tasks at three per window took ${sorted.at(-1)! - t0} ms: ${sorted.map((t) => t - t0)}`,
      );
      const removed = await a.setRateLimit(q, null);
      assert.equal(removed.rateLimit, undefined);
    } finally {
      ac.abort();
      await Promise.all(runs);
      await a.close();
      await b.close();
    }
  });

  it("lets a handler postpone its task without using up a try, and hold the whole queue", async () => {
    const q = uniq();
    let calls = 0;
    const router = new Router().handle("api", () => {
      calls++;
      if (calls === 1) throw new RateLimitError(50, { holdQueue: true });
      return "ok";
    });
    await withWorker(nats.server.url, { name: q, maxTries: 1 }, router, async (c, outcome) => {
      const events = c.allEvents({ queue: q });
      const t = await c.enqueue(newTask("api", null));
      const held = await firstMatch(events, (e) => e.type === QUEUE_EVENT && e.action === "held");
      assert.equal(held.type === QUEUE_EVENT && typeof held.detail?.until, "string");
      const done = await outcome(t.id);
      assert.equal(done.state, TaskState.Complete, "maxTries 1, yet a second call ran: the first did not count");
      assert.equal(done.tries, 1);
      assert.equal(calls, 2);
      assert.ok((await c.queueControls()).holdUntil! > 0);
      events.close();
    });
  });
});

describe("cancellation", () => {
  it("cancels a waiting task without running it", async () => {
    const q = uniq();
    const ran: string[] = [];
    const router = new Router().handle("job", (t) => {
      ran.push(t.id);
    });
    const c = await client(q);
    try {
      await c.pauseQueue();
      const victim = await c.enqueue(newTask("job", null));
      const cancelled = await c.cancelTask(victim.id);
      assert.equal(cancelled.state, TaskState.Cancelled);
      assert.equal((await c.loadTask(victim.id)).state, TaskState.Cancelled);
      assert.equal((await c.admin.queueInfo(q)).depth, 0, "work item removed");
      await assert.rejects(
        c.cancelTask(victim.id),
        (err: unknown) => err instanceof StateError && err.code === "task_finished",
      );
      await c.resumeQueue();
    } finally {
      await c.close();
    }
    await withWorker(nats.server.url, { name: q }, router, async (w, outcome) => {
      const next = await w.enqueue(newTask("job", null));
      await outcome(next.id);
      assert.deepEqual(ran, [next.id]);
    });
  });

  it("cancels a delayed task: its schedule never fires", async () => {
    const q = uniq();
    const ran: string[] = [];
    const router = new Router().handle("job", (t) => {
      ran.push(t.id);
    });
    const owner = await client(q);
    const scheduler = new SchedulerService({
      storage: await storageOn(owner.nc),
      log: silentLogger,
      name: `t-${randomUUID()}`,
    });
    await scheduler.start();
    try {
      await withWorker(nats.server.url, { name: q }, router, async (c, outcome) => {
        const victim = await c.enqueue(newTask("job", null, { delayMs: 300 }));
        assert.equal(victim.state, TaskState.Delayed);
        assert.equal((await c.cancelTask(victim.id)).state, TaskState.Cancelled);
        const later = await c.enqueue(newTask("job", null, { delayMs: 400 }));
        await outcome(later.id);
        assert.deepEqual(ran, [later.id], "the cancelled task never ran");
        assert.equal((await c.loadTask(victim.id)).state, TaskState.Cancelled);
      });
    } finally {
      await scheduler.stop();
      await owner.close();
    }
  });

  it("aborts a running task within a second; it ends cancelled without retries", async () => {
    const q = uniq();
    const started = deferred();
    const aborted = deferred<unknown>();
    const router = new Router().handle("slow", async (_t, ctx) => {
      started.resolve();
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      aborted.resolve(ctx.signal.reason);
    });
    await withWorker(nats.server.url, { name: q }, router, async (c, outcome) => {
      const t = await c.enqueue(newTask("slow", null));
      await started.promise;
      const at = Date.now();
      const seen = await c.cancelTask(t.id);
      // Its record says `active` once the try lasted 100 ms; before that the try is not recorded yet.
      assert.ok(seen.state === TaskState.Active || seen.state === TaskState.Cancelled, seen.state);
      assert.ok((await aborted.promise) instanceof TaskCancelledError);
      assert.ok(Date.now() - at < 1000, `aborted after ${Date.now() - at} ms`);
      assert.equal((await outcome(t.id)).state, TaskState.Cancelled);
      await waitUntil(async () => (await c.admin.queueInfo(q)).depth === 0, 5000, "work item gone");
      const final = await c.loadTask(t.id);
      assert.equal(final.state, TaskState.Cancelled);
      assert.ok(final.tries <= 1, "never retried");
    });
  });
});

describe("progress and logs", () => {
  it("shows a running task's progress and log lines in its record, events and logs", async () => {
    const q = uniq();
    const reported = deferred();
    const finish = deferred();
    const router = new Router().handle("report", async (_t, ctx) => {
      const { progress, appendLog } = ctx; // taken off the context, as handlers may
      await progress(40);
      await appendLog("fetched 40 rows");
      await ctx.progress({ done: 80, of: 100 });
      await ctx.appendLog("é".repeat(5000));
      reported.resolve();
      await finish.promise;
      return "done";
    });
    const metrics = new JetqMetrics();
    await withWorker(
      nats.server.url,
      { name: q },
      router,
      async (c, outcome) => {
        const events = c.allEvents({ queue: q });
        const t = await c.enqueue(newTask("report", null));
        const progress = await firstMatch(events, (e) => e.type === TASK_PROGRESS_EVENT);
        assert.equal(progress.type === TASK_PROGRESS_EVENT && progress.progress, 40);
        const log = await firstMatch(events, (e) => e.type === TASK_LOG_EVENT);
        assert.equal(log.type === TASK_LOG_EVENT && log.line, "fetched 40 rows");
        await reported.promise;
        const running = await c.loadTask(t.id, { logs: true });
        assert.equal(running.state, TaskState.Active);
        assert.deepEqual(running.progress, { done: 80, of: 100 });
        assert.equal(running.logs?.length, 2);
        assert.equal(running.logs?.[0]?.line, "fetched 40 rows");
        assert.ok(Buffer.byteLength(running.logs![1]!.line) <= 4096 && running.logs![1]!.line.endsWith("…"));
        finish.resolve();
        const done = await outcome(t.id);
        assert.equal(done.state, TaskState.Complete);
        assert.deepEqual(done.progress, { done: 80, of: 100 });
        const text = await metrics.text();
        assert.match(text, new RegExp(`jetq_task_reports_total\\{queue="${q}",kind="progress"\\} 2`));
        assert.match(text, new RegExp(`jetq_task_reports_total\\{queue="${q}",kind="log"\\} 2`));
        events.close();
      },
      { observer: metrics },
    );
  });
});
