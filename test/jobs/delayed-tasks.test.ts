import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type ClientOptions,
  connectNats,
  newTask,
  Router,
  SchedulerService,
  silentLogger,
  type Task,
  type TaskObserver,
  TaskState,
  ValidationError,
} from "../../src/index.js";
import { OutboxPublisher } from "../../src/outbox/index.js";
import { testClient, uniqueQueue } from "../support/client.js";
import { memoryLogger } from "../support/memory-logger.js";
import { firstMatch, useNatsServer, waitUntil } from "../support/nats.js";
import { storageOn } from "../support/storage.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
const uniq = uniqueQueue;
const client = (queue: string, extra: Partial<ClientOptions> = {}) => testClient(nats.server.url, queue, extra);

/** A router whose handler for `t` records when each task started, by task id. */
function startTimes(): { router: Router; started: Map<string, number>; payloads: Map<string, unknown> } {
  const started = new Map<string, number>();
  const payloads = new Map<string, unknown>();
  const router = new Router().handle("t", (task: Task) => {
    if (!started.has(task.id)) started.set(task.id, Date.now());
    payloads.set(task.id, task.payload);
  });
  return { router, started, payloads };
}

describe("delayed tasks", () => {
  let scheduler: SchedulerService | undefined;
  let nc: NatsConnection | undefined;
  after(async () => {
    await scheduler?.stop();
    await nc?.drain();
  });

  it("are stored as delayed with their schedule; without a scheduler one clear warning is logged", async () => {
    const log = memoryLogger();
    const c = await client(uniq(), { logger: log });
    try {
      const runAt = Date.now() + 3_600_000;
      const t = await c.enqueue(newTask("t", { n: 1 }, { runAt: new Date(runAt) }));
      assert.equal(t.state, TaskState.Delayed);
      const rec = await c.loadTask(t.id);
      assert.equal(rec.state, TaskState.Delayed);
      assert.equal(rec.runAt, runAt);
      assert.equal((await c.admin.queueInfo(c.queue.name)).depth, 0, "not in the queue before its time");
      const delayed = c.engine.delayed;
      assert.equal((await delayed.pending(t.id))?.runAt, runAt);

      const warnings = () => log.lines.filter((l) => l.includes("no scheduler is running"));
      await waitUntil(() => warnings().length > 0, 5000, "the warning");
      await c.enqueue(newTask("t", { n: 2 }, { delayMs: 3_600_000 }));
      assert.equal(warnings().length, 1, "warned once");

      assert.equal(await delayed.cancel(t.id), true);
      assert.equal(await delayed.pending(t.id), undefined);
      assert.equal(await delayed.cancel(t.id), false, "nothing pending any more");
    } finally {
      await c.close();
    }
  });

  it("a scheduler puts them in their queue at runAt, not before; events and the observer see `delayed`", async () => {
    nc = await connectNats({ servers: nats.server.url });
    scheduler = new SchedulerService({ storage: await storageOn(nc), log: silentLogger, name: `t-${randomUUID()}` });
    await scheduler.start();
    assert.ok(scheduler.isLeader);
    const states: string[] = [];
    const observer: TaskObserver = { taskState: (t) => states.push(t.state), handlerDone: () => {} };
    const { router, started } = startTimes();
    const queue = uniq();
    await withWorker(
      nats.server.url,
      { name: queue },
      router,
      async (c, outcome) => {
        const events = c.events({ queue });
        try {
          const runAt = Date.now() + 700;
          const t = await c.enqueue(newTask("t", 1, { runAt }));
          const ev = await firstMatch(events, (e) => e.taskId === t.id);
          assert.equal(ev.state, TaskState.Delayed);
          assert.equal((await outcome(t.id)).state, TaskState.Complete);
          const at = started.get(t.id)!;
          assert.ok(at >= runAt, `started ${runAt - at} ms before runAt`);
          assert.ok(at - runAt < 1000, `started ${at - runAt} ms after runAt`);
          assert.deepEqual(states.slice(0, 2), [TaskState.Delayed, TaskState.Active]);
        } finally {
          events.close();
        }
      },
      { observer },
    );
  });

  it("delayMs delays from now; a runAt now or past enqueues at once", async () => {
    const { router, started } = startTimes();
    await withWorker(nats.server.url, { name: uniq() }, router, async (c, outcome) => {
      const d = await c.enqueue(newTask("t", 1, { delayMs: 400 }));
      const due = d.runAt!;
      const past = await c.enqueue(newTask("t", 2, { runAt: Date.now() - 1000 }));
      assert.equal(past.state, TaskState.New);
      await outcome(past.id);
      assert.ok(!started.has(d.id), "the delayed task waits while the other runs");
      await outcome(d.id);
      assert.ok(started.get(d.id)! >= due);
    });
  });

  it("enqueueMany pipelines delayed and immediate tasks together", async () => {
    const { router, started } = startTimes();
    await withWorker(nats.server.url, { name: uniq() }, router, async (c, outcome) => {
      const now = Date.now();
      const tasks = Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0 ? newTask("t", i) : newTask("t", i, { runAt: now + 500 + i }),
      );
      await c.enqueueMany(tasks);
      assert.deepEqual(
        new Set(tasks.map((t) => t.state)),
        new Set([TaskState.New, TaskState.Delayed]),
        "both kinds in one batch",
      );
      for (const t of tasks) await outcome(t.id);
      for (const t of tasks.filter((t) => t.runAt !== undefined)) {
        assert.ok(started.get(t.id)! >= t.runAt!, `task ${t.id} started before its runAt`);
      }
    });
  });

  it("a cancelled delayed task never reaches its queue", async () => {
    const { router, started } = startTimes();
    await withWorker(nats.server.url, { name: uniq() }, router, async (c, outcome) => {
      const doomed = await c.enqueue(newTask("t", "doomed", { delayMs: 300 }));
      assert.equal(await c.engine.delayed.cancel(doomed.id), true);
      // A marker due after the cancelled one: once it ran, the cancelled one would have too.
      const marker = await c.enqueue(newTask("t", "marker", { delayMs: 600 }));
      await outcome(marker.id);
      assert.ok(!started.has(doomed.id));
      assert.equal((await c.loadTask(doomed.id)).state, TaskState.Delayed, "its record is the canceller's to settle");
    });
  });

  it("go through an outbox: record and schedule are buffered, then fire at runAt", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jetq-delayed-outbox-"));
    const queue = uniq();
    const { router, started } = startTimes();
    await withWorker(nats.server.url, { name: queue }, router, async (c, outcome) => {
      const outbox = new OutboxPublisher({ outbox: join(dir, "o.db"), connection: c.nc, log: silentLogger });
      outbox.start();
      const producer = await client(queue, { connection: c.nc, outbox });
      try {
        const t = await producer.enqueue(newTask("t", "via outbox", { delayMs: 300 }));
        await outbox.drained();
        await outcome(t.id);
        assert.ok(started.get(t.id)! >= t.runAt!);
      } finally {
        await producer.close();
        await outbox.stop();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it("a signed delayed task verifies when it fires", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const { router, started } = startTimes();
    await withWorker(
      nats.server.url,
      { name: uniq() },
      router,
      async (c, outcome) => {
        const t = await c.enqueue(newTask("t", "signed", { delayMs: 200 }));
        assert.match(t.signature ?? "", /^[0-9a-f]{128}$/);
        assert.equal((await outcome(t.id)).state, TaskState.Complete);
        assert.ok(started.has(t.id));
      },
      { signingKey: privateKey, verificationKey: publicKey },
    );
  });

  it("refuses dependencies and run times too far ahead, with typed errors", async () => {
    const c = await client(uniq());
    try {
      const other = await c.enqueue(newTask("t", 0));
      await assert.rejects(
        c.enqueue(newTask("t", 1, { delayMs: 1000, dependsOn: [other.id] })),
        (e: unknown) => e instanceof ValidationError && e.code === "unsupported",
      );
      await assert.rejects(
        c.enqueue(newTask("t", 1, { runAt: Date.now() + 11 * 365 * 86_400_000 })),
        (e: unknown) => e instanceof ValidationError && e.code === "invalid_run_at",
      );
      assert.throws(
        () => newTask("t", 1, { delayMs: -5 }),
        (e: unknown) => e instanceof ValidationError && e.code === "invalid_run_at",
      );
    } finally {
      await c.close();
    }
  });
});
