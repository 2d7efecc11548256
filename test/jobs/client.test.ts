import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { headers } from "@nats-io/nats-core";
import {
  Client,
  type ClientOptions,
  type JetqEvent,
  NotFoundError,
  newTask,
  Router,
  silentLogger,
  TaskState,
  TerminateTask,
  ValidationError,
} from "../../src/index.js";
import { deferred, firstMatch, useNatsServer, waitUntil } from "../support/nats.js";

const nats = useNatsServer();

async function client(queue: ClientOptions["queue"], extra: Partial<ClientOptions> = {}): Promise<Client> {
  return Client.connect({ servers: nats.server.url, queue, logger: silentLogger, retryPolicy: () => 50, ...extra });
}

const uniq = () => `q${randomUUID().slice(0, 8)}`;

describe("Client producer", () => {
  it("enqueues a task and loads it back by id", async () => {
    const c = await client(uniq());
    try {
      const t = await c.enqueue(newTask("email:send", { to: "a@example.net" }));
      const loaded = await c.loadTask(t.id);
      assert.equal(loaded.id, t.id);
      assert.equal(loaded.state, TaskState.New);
      assert.deepEqual(loaded.payload, { to: "a@example.net" });
      assert.equal(loaded.queue, c.queue.name);
      const info = await c.admin.queueInfo(c.queue.name);
      assert.equal(info.depth, 1);
    } finally {
      await c.close();
    }
  });

  it("stores an accidental double enqueue of the same id once", async () => {
    const c = await client(uniq());
    try {
      const t = newTask("x", 1);
      await c.enqueue(t);
      await c.enqueue({ ...t });
      assert.equal((await c.admin.queueInfo(c.queue.name)).depth, 1);
    } finally {
      await c.close();
    }
  });

  it("rejects names that could inject subject tokens before writing anything", async () => {
    for (const bad of ["a.b", "*", ">", "a b", "", "a\tb", "q>"]) {
      await assert.rejects(
        client(bad),
        (e: unknown) => e instanceof ValidationError && e.code === "invalid_queue_name",
      );
      assert.throws(
        () => newTask(bad, {}),
        (e: unknown) => e instanceof ValidationError && e.code === "invalid_task_type",
      );
    }
  });

  it("rejects an oversize payload with a clear error", async () => {
    const c = await client(uniq());
    try {
      const big = "x".repeat(2 * 1024 * 1024);
      await assert.rejects(
        c.enqueue(newTask("big", big)),
        (e: unknown) => e instanceof ValidationError && e.code === "payload_too_large",
      );
      assert.equal((await c.admin.queueInfo(c.queue.name)).depth, 0);
    } finally {
      await c.close();
    }
  });

  it("enqueueMany stores every task", async () => {
    const c = await client(uniq());
    try {
      const tasks = Array.from({ length: 500 }, (_, i) => newTask("bulk", { i }));
      await c.enqueueMany(tasks);
      assert.equal((await c.admin.queueInfo(c.queue.name)).depth, 500);
      assert.equal((await c.loadTask(tasks[499]!.id)).payload instanceof Object, true);
    } finally {
      await c.close();
    }
  });

  it("reports unknown tasks and queues as NotFoundError", async () => {
    const c = await client(uniq());
    try {
      await assert.rejects(
        c.loadTask("01NOPE"),
        (e: unknown) => e instanceof NotFoundError && e.code === "task_not_found",
      );
      await assert.rejects(
        c.enqueue(newTask("x", 1), { queue: "missing" }),
        (e: unknown) => e instanceof NotFoundError,
      );
      await assert.rejects(client("never-made", { skipStorageInit: true }), NotFoundError);
    } finally {
      await c.close();
    }
  });
});

describe("Client worker", () => {
  it("runs a handler, stores its result and emits state and final events", async () => {
    const c = await client(uniq());
    const ac = new AbortController();
    try {
      const events = c.events({ queue: c.queue.name });
      const final = c.events({ queue: c.queue.name, final: true });
      const router = new Router().handle("add", (t) => {
        const p = t.payload as { a: number; b: number };
        return p.a + p.b;
      });
      const done = c.run(router, { signal: ac.signal });
      const t = await c.enqueue(newTask("add", { a: 2, b: 3 }));
      const seen: JetqEvent[] = [];
      await firstMatch(events, (e) => {
        if (e.taskId === t.id) seen.push(e);
        return e.taskId === t.id && e.state === TaskState.Complete;
      });
      const f = await firstMatch(final, (e) => e.taskId === t.id);
      assert.equal(f.state, TaskState.Complete);
      assert.deepEqual(
        seen.map((e) => e.state),
        [TaskState.New, TaskState.Active, TaskState.Complete],
      );
      const loaded = await c.loadTask(t.id);
      assert.equal(loaded.state, TaskState.Complete);
      assert.equal(loaded.result?.value, 5);
      assert.equal(loaded.tries, 1);
      ac.abort();
      await done;
      events.close();
      final.close();
    } finally {
      await c.close();
    }
  });

  it("retries failures with back-off and expires after max tries", async () => {
    const c = await client({ name: uniq(), maxTries: 3 });
    const ac = new AbortController();
    try {
      let calls = 0;
      const final = c.events({ final: true, queue: c.queue.name });
      const done = c.run(
        new Router().handle("flaky", () => {
          calls++;
          throw new Error(`boom ${calls}`);
        }),
        { signal: ac.signal },
      );
      const t = await c.enqueue(newTask("flaky", null));
      const f = await firstMatch(final, (e) => e.taskId === t.id);
      assert.equal(f.state, TaskState.Expired);
      assert.equal(f.tries, 3);
      assert.equal(calls, 3);
      assert.equal((await c.loadTask(t.id)).lastError, "boom 3");
      ac.abort();
      await done;
      final.close();
    } finally {
      await c.close();
    }
  });

  it("succeeds on a later try and counts the tries", async () => {
    const c = await client(uniq());
    const ac = new AbortController();
    try {
      let calls = 0;
      const final = c.events({ final: true, queue: c.queue.name });
      const done = c.run(
        new Router().handle("second", () => {
          if (++calls < 2) throw new Error("not yet");
          return "ok";
        }),
        { signal: ac.signal },
      );
      const t = await c.enqueue(newTask("second", null));
      const f = await firstMatch(final, (e) => e.taskId === t.id);
      assert.equal(f.state, TaskState.Complete);
      const loaded = await c.loadTask(t.id);
      assert.equal(loaded.tries, 2);
      assert.equal(loaded.result?.value, "ok");
      ac.abort();
      await done;
      final.close();
    } finally {
      await c.close();
    }
  });

  it("TerminateTask ends retries; a past deadline expires without running; unknown types are retried", async () => {
    const c = await client(uniq());
    const ac = new AbortController();
    try {
      let ranLate = false;
      const final = c.events({ final: true, queue: c.queue.name });
      const done = c.run(
        new Router()
          .handle("term", () => {
            throw new TerminateTask("bad input");
          })
          .handle("late", () => {
            ranLate = true;
          }),
        { signal: ac.signal },
      );
      const term = await c.enqueue(newTask("term", null));
      const late = await c.enqueue(newTask("late", null, { deadline: Date.now() - 1000 }));
      const outcomes = new Map<string, JetqEvent>();
      await firstMatch(final, (e) => {
        outcomes.set(e.taskId, e);
        return outcomes.has(term.id) && outcomes.has(late.id);
      });
      assert.equal(outcomes.get(term.id)?.state, TaskState.Terminated);
      assert.equal(outcomes.get(term.id)?.lastError, "bad input");
      assert.equal(outcomes.get(late.id)?.state, TaskState.Expired);
      assert.equal(ranLate, false);
      ac.abort();
      await done;
      final.close();
    } finally {
      await c.close();
    }
  });

  it("aborts a handler past the max run time and retries it", async () => {
    const c = await client({ name: uniq(), maxRunTimeMs: 300, maxTries: 2 });
    const ac = new AbortController();
    try {
      const signals: AbortSignal[] = [];
      const final = c.events({ final: true, queue: c.queue.name });
      const done = c.run(
        new Router().handle("slow", (_t, ctx) => {
          signals.push(ctx.signal);
          return new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        }),
        { signal: ac.signal },
      );
      const t = await c.enqueue(newTask("slow", null));
      const f = await firstMatch(final, (e) => e.taskId === t.id);
      assert.equal(f.state, TaskState.Expired);
      assert.match(f.lastError ?? "", /max run time/);
      assert.equal(signals.length, 2);
      assert.ok(signals.every((s) => s.aborted));
      ac.abort();
      await done;
      final.close();
    } finally {
      await c.close();
    }
  });

  it("keeps a long handler's work item alive past the ack wait (no duplicate delivery)", async () => {
    // maxRunTime 1.5 s → ack wait 1.5 s; a 2.5 s handler must heartbeat to avoid redelivery.
    const c = await client({ name: uniq(), maxRunTimeMs: 5000 }, { concurrency: 2 });
    const ac = new AbortController();
    try {
      let runs = 0;
      const finished = deferred();
      const done = c.run(
        new Router().handle("long", async () => {
          runs++;
          await new Promise((r) => setTimeout(r, 2500));
          finished.resolve();
        }),
        { signal: ac.signal },
      );
      await c.enqueue(newTask("long", null));
      await finished.promise;
      ac.abort();
      await done;
      assert.equal(runs, 1);
    } finally {
      await c.close();
    }
  });

  it("terminates a corrupt work item and keeps processing", async () => {
    const c = await client(uniq());
    const ac = new AbortController();
    try {
      const final = c.events({ final: true, queue: c.queue.name });
      const done = c.run(
        new Router().handle("ok", () => "fine"),
        { signal: ac.signal },
      );
      const h = headers();
      h.set("Nats-Msg-Id", "garbage-1");
      await c.storage.js.publish(`jetq.q.${c.queue.name}.5.garbage`, "{not json", { headers: h });
      const t = await c.enqueue(newTask("ok", null));
      const f = await firstMatch(final, (e) => e.taskId === t.id);
      assert.equal(f.state, TaskState.Complete);
      assert.equal((await c.admin.queueInfo(c.queue.name)).depth, 0);
      ac.abort();
      await done;
      final.close();
    } finally {
      await c.close();
    }
  });

  it("retryTask runs a finished task again; deleteTask removes it", async () => {
    const c = await client(uniq());
    const ac = new AbortController();
    try {
      let calls = 0;
      const final = c.events({ final: true, queue: c.queue.name });
      const done = c.run(
        new Router().handle("again", () => ++calls),
        { signal: ac.signal },
      );
      const t = await c.enqueue(newTask("again", null));
      await firstMatch(final, (e) => e.taskId === t.id);
      await c.retryTask(t.id);
      await firstMatch(final, (e) => e.taskId === t.id);
      assert.equal(calls, 2);
      assert.equal((await c.loadTask(t.id)).result?.value, 2);
      await c.deleteTask(t.id);
      await assert.rejects(c.loadTask(t.id), NotFoundError);
      ac.abort();
      await done;
      final.close();
    } finally {
      await c.close();
    }
  });

  it("discards records of configured final states", async () => {
    const c = await client(uniq(), { discard: [TaskState.Complete] });
    const ac = new AbortController();
    try {
      const final = c.events({ final: true, queue: c.queue.name });
      const done = c.run(
        new Router().handle("d", () => 1),
        { signal: ac.signal },
      );
      const t = await c.enqueue(newTask("d", null));
      await firstMatch(final, (e) => e.taskId === t.id);
      await assert.rejects(c.loadTask(t.id), NotFoundError);
      ac.abort();
      await done;
      final.close();
    } finally {
      await c.close();
    }
  });
});

describe("Admin", () => {
  it("lists, inspects, purges and deletes queues and lists tasks", async () => {
    const name = uniq();
    const c = await client(name);
    try {
      await c.enqueueMany([newTask("a", 1), newTask("a", 2), newTask("a", 3)]);
      assert.ok((await c.admin.queueNames()).includes(name));
      const ids = new Set<string>();
      for await (const t of c.admin.tasks()) ids.add(t.id);
      assert.ok(ids.size >= 3);
      assert.equal(await c.admin.purgeQueue(name), 3);
      assert.equal((await c.admin.queueInfo(name)).depth, 0);
      await c.admin.deleteQueue(name);
      assert.ok(!(await c.admin.queueNames()).includes(name));
      await assert.rejects(c.admin.queueInfo(name), NotFoundError);
    } finally {
      await c.close();
    }
  });
});

describe("retention", () => {
  it("creates the task store with the configured retention, and records age out of the stream", async () => {
    const server = new (await import("../../src/nats/nats-server-launcher.js")).NatsServerLauncher();
    await server.start();
    try {
      const c = await Client.connect({
        servers: server.url,
        queue: uniq(),
        logger: silentLogger,
        taskRetentionMs: 1500,
      });
      try {
        const info = await c.admin.tasksInfo();
        assert.equal(info.stream.config.max_age, 1500 * 1_000_000);
        const t = await c.enqueue(newTask("kept", null));
        assert.equal((await c.loadTask(t.id)).id, t.id);
        await c.admin.purgeQueue(c.queue.name);
        await waitUntil(async () => (await c.admin.tasksInfo()).records === 0, 10_000, "records aged out");
        await assert.rejects(c.loadTask(t.id), NotFoundError);
      } finally {
        await c.close();
      }
    } finally {
      await server.stop();
    }
  });
});
