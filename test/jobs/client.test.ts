import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import {
  Client,
  type ClientOptions,
  NotFoundError,
  newTask,
  type QueueConfig,
  Router,
  silentLogger,
  TaskState,
  type TaskStateEvent,
  TerminateTask,
  ValidationError,
} from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { deferred, firstMatch, useNatsServer, waitUntil } from "../support/nats.js";
import { type Outcome, withWorker } from "../support/worker.js";

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

  it("enqueueMany again with tasks enqueued already stores each once, with its events", async () => {
    const c = await client(uniq());
    const events: string[] = [];
    const sub = c.nc.subscribe(`jetq.ev.task.${c.queue.name}.step.new`, {
      callback: (_e, m) => {
        events.push(m.json<{ task_id: string }>().task_id);
      },
    });
    try {
      const first = Array.from({ length: 700 }, (_, i) => newTask("bulk", { i }));
      await c.enqueueMany(first);
      // On 2.12+ these go as atomic batches; a batch holding a task stored already is refused as a
      // whole and written again one by one, each de-duplicated.
      const again = [...first.slice(600), ...Array.from({ length: 300 }, (_, i) => newTask("bulk", { i: 700 + i }))];
      await c.enqueueMany(again);
      assert.equal((await c.admin.queueInfo(c.queue.name)).depth, 1000);
      await c.nc.flush();
      await waitUntil(() => events.length >= 1000, 5000, "a new event per task");
      assert.equal(new Set(events).size, 1000, "one new event per task, none for the repeats");
      assert.equal(events.length, 1000);
    } finally {
      sub.unsubscribe();
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
  const work = (
    queue: QueueConfig,
    router: Router,
    body: (c: Client, outcome: Outcome) => Promise<void>,
    extra: Partial<ClientOptions> = {},
  ) => withWorker(nats.server.url, queue, router, body, extra);

  it("runs a handler, stores its result and emits state and final events", async () => {
    const router = new Router().handle("add", (t) => {
      const p = t.payload as { a: number; b: number };
      return p.a + p.b;
    });
    await work({ name: uniq() }, router, async (c) => {
      const events = c.events({ queue: c.queue.name });
      const final = c.events({ queue: c.queue.name, final: true });
      const t = await c.enqueue(newTask("add", { a: 2, b: 3 }));
      const seen: TaskStateEvent[] = [];
      await firstMatch(events, (e) => {
        if (e.taskId === t.id) seen.push(e);
        return e.taskId === t.id && e.state === TaskState.Complete;
      });
      const f = await firstMatch(final, (e) => e.taskId === t.id);
      assert.equal(f.state, TaskState.Complete);
      assert.equal(f.final, true);
      assert.deepEqual(
        seen.map((e) => [e.state, e.final]),
        [
          [TaskState.New, false],
          [TaskState.Active, false],
          [TaskState.Complete, true],
        ],
      );
      const loaded = await c.loadTask(t.id);
      assert.equal(loaded.state, TaskState.Complete);
      assert.equal(loaded.result?.value, 5);
      assert.equal(loaded.tries, 1);
      events.close();
      final.close();
    });
  });

  it("task records carry queue, state and type headers (for headers-only readers)", async () => {
    await work(
      { name: uniq() },
      new Router().handle("hdr:t", () => 1),
      async (c, outcome) => {
        const t = await c.enqueue(newTask("hdr:t", null));
        await outcome(t.id);
        const jsm = await jetstreamManager(c.nc);
        const m = await jsm.direct.getMessage("JETQ_TASKS", { last_by_subj: `jetq.task.${t.id}` });
        assert.equal(m?.header.get("Jetq-Queue"), c.queue.name);
        assert.equal(m?.header.get("Jetq-State"), TaskState.Complete);
        assert.equal(m?.header.get("Jetq-Type"), "hdr:t");
      },
    );
  });

  it("events: 'final' publishes only outcomes", async () => {
    await work(
      { name: uniq() },
      new Router().handle("f", () => 1),
      async (c, outcome) => {
        const all = c.events({ queue: c.queue.name });
        const t = await c.enqueue(newTask("f", null));
        await outcome(t.id);
        const first = await firstMatch(all, (e) => e.taskId === t.id);
        all.close();
        assert.equal(first.state, TaskState.Complete, "no new/active events before the outcome");
      },
      { events: "final" },
    );
  });

  it("retries failures with back-off and expires after max tries", async () => {
    let calls = 0;
    const router = new Router().handle("flaky", () => {
      calls++;
      throw new Error(`boom ${calls}`);
    });
    await work({ name: uniq(), maxTries: 3 }, router, async (c, outcome) => {
      const t = await outcome((await c.enqueue(newTask("flaky", null))).id);
      assert.equal(t.state, TaskState.Expired);
      assert.equal(t.tries, 3);
      assert.equal(calls, 3);
      assert.equal(t.lastError, "boom 3");
    });
  });

  it("succeeds on a later try and counts the tries", async () => {
    let calls = 0;
    const router = new Router().handle("second", () => {
      if (++calls < 2) throw new Error("not yet");
      return "ok";
    });
    await work({ name: uniq() }, router, async (c, outcome) => {
      const t = await outcome((await c.enqueue(newTask("second", null))).id);
      assert.equal(t.state, TaskState.Complete);
      assert.equal(t.tries, 2);
      assert.equal(t.result?.value, "ok");
    });
  });

  it("TerminateTask ends retries; a past deadline expires without running", async () => {
    let ranLate = false;
    const router = new Router()
      .handle("term", () => {
        throw new TerminateTask("bad input");
      })
      .handle("late", () => {
        ranLate = true;
      });
    await work({ name: uniq() }, router, async (c, outcome) => {
      const term = await c.enqueue(newTask("term", null));
      const late = await c.enqueue(newTask("late", null, { deadline: Date.now() - 1000 }));
      const t = await outcome(term.id);
      assert.equal(t.state, TaskState.Terminated);
      assert.equal(t.lastError, "bad input");
      assert.equal((await outcome(late.id)).state, TaskState.Expired);
      assert.equal(ranLate, false);
    });
  });

  it("aborts a handler past the max run time and retries it", async () => {
    const signals: AbortSignal[] = [];
    const router = new Router().handle("slow", (_t, ctx) => {
      signals.push(ctx.signal);
      return new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
    });
    await work({ name: uniq(), maxRunTimeMs: 300, maxTries: 2 }, router, async (c, outcome) => {
      const t = await outcome((await c.enqueue(newTask("slow", null))).id);
      assert.equal(t.state, TaskState.Expired);
      assert.match(t.lastError ?? "", /max run time/);
      assert.equal(signals.length, 2);
      assert.ok(signals.every((s) => s.aborted));
    });
  });

  it("gives up on a handler that ignores its abort signal once the max run time is up", async () => {
    const router = new Router().handle("stuck", () => new Promise(() => undefined));
    await work({ name: uniq(), maxRunTimeMs: 200, maxTries: 1 }, router, async (c, outcome) => {
      const t = await outcome((await c.enqueue(newTask("stuck", null))).id);
      assert.equal(t.state, TaskState.Expired);
      assert.match(t.lastError ?? "", /max run time/);
    });
  });

  it("a handler may return its result directly, without a promise", async () => {
    const router = new Router().handle("sync", (t) => ({ doubled: (t.payload as number) * 2 }));
    await work({ name: uniq() }, router, async (c, outcome) => {
      const t = await outcome((await c.enqueue(newTask("sync", 21))).id);
      assert.equal(t.state, TaskState.Complete);
      assert.deepEqual(t.result?.value, { doubled: 42 });
    });
  });

  it("keeps a long handler's work item alive past the ack wait (no duplicate delivery)", async () => {
    // Ack wait 300 ms; a 1.2 s handler must keep its item alive to avoid a second delivery.
    let runs = 0;
    const router = new Router().handle("long", async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 1200));
    });
    await work(
      { name: uniq(), maxRunTimeMs: 5000, redeliverAfterMs: 300 },
      router,
      async (c, outcome) => {
        assert.equal((await outcome((await c.enqueue(newTask("long", null))).id)).state, TaskState.Complete);
        assert.equal(runs, 1);
      },
      { concurrency: 2 },
    );
  });

  it("terminates a corrupt work item and keeps processing", async () => {
    await work(
      { name: uniq() },
      new Router().handle("ok", () => "fine"),
      async (c, outcome) => {
        const h = headers();
        h.set("Nats-Msg-Id", "garbage-1");
        await handlesOf(c.storage).js.publish(`jetq.q.${c.queue.name}.5.garbage`, "{not json", { headers: h });
        // Well-formed JSON whose names could widen subjects or break event JSON is corrupt too.
        const crafted = {
          id: "x.>",
          type: 'a"b',
          queue: c.queue.name,
          state: "new",
          created: new Date().toISOString(),
          tries: 0,
          max_tries: 0,
          priority: 5,
        };
        await handlesOf(c.storage).js.publish(`jetq.q.${c.queue.name}.5.crafted`, JSON.stringify(crafted));
        const t = await outcome((await c.enqueue(newTask("ok", null))).id);
        assert.equal(t.state, TaskState.Complete);
        assert.equal((await c.admin.queueInfo(c.queue.name)).depth, 0);
      },
    );
  });

  it("retryTask runs a finished task again; deleteTask removes it", async () => {
    let calls = 0;
    await work(
      { name: uniq() },
      new Router().handle("again", () => ++calls),
      async (c) => {
        const final = c.events({ final: true, queue: c.queue.name });
        const t = await c.enqueue(newTask("again", null));
        await firstMatch(final, (e) => e.taskId === t.id);
        await c.retryTask(t.id);
        await firstMatch(final, (e) => e.taskId === t.id);
        final.close();
        assert.equal(calls, 2);
        assert.equal((await c.loadTask(t.id)).result?.value, 2);
        await c.deleteTask(t.id);
        await assert.rejects(c.loadTask(t.id), NotFoundError);
      },
    );
  });

  it("graceful shutdown: stops taking work, lets the running handler finish", async () => {
    const c = await client({ name: uniq() }, { shutdownTimeoutMs: 10_000 });
    try {
      const started = deferred();
      const release = deferred();
      let runs = 0;
      const ac = new AbortController();
      const done = c.run(
        new Router().handle("slowish", async () => {
          runs++;
          started.resolve();
          await release.promise;
          return "finished";
        }),
        { signal: ac.signal },
      );
      const first = await c.enqueue(newTask("slowish", null));
      await started.promise;
      ac.abort();
      const second = await c.enqueue(newTask("slowish", null));
      let stopped = false;
      void done.then(() => {
        stopped = true;
      });
      await c.nc.flush();
      assert.equal(stopped, false, "run() waits for the running handler");
      release.resolve();
      await done;
      assert.equal((await c.loadTask(first.id)).state, TaskState.Complete);
      assert.equal((await c.loadTask(second.id)).state, TaskState.New, "no new work taken after the signal");
      assert.equal(runs, 1);
    } finally {
      await c.close();
    }
  });

  it("items pulled but not started when a worker stops cost no try (maxTries 1 still runs them)", async () => {
    const name = uniq();
    const c = await client({ name, maxTries: 1, redeliverAfterMs: 500 }, { concurrency: 2 });
    try {
      const release = deferred();
      let started = 0;
      const ac = new AbortController();
      const first = c.run(
        new Router().handle("w", async () => {
          if (++started === 2) release.resolve();
          await new Promise((r) => setTimeout(r, 50));
        }),
        { signal: ac.signal },
      );
      const tasks = await c.enqueueMany(Array.from({ length: 6 }, () => newTask("w", null)));
      await release.promise;
      ac.abort();
      await first;
      // A second worker runs every task left; none may expire for "exceeded maximum tries".
      await withWorker(
        nats.server.url,
        { name },
        new Router().handle("w", () => "ok"),
        async (c2, outcome) => {
          for (const t of tasks) {
            const rec = await c2.loadTask(t.id);
            if (rec.state !== TaskState.Complete)
              assert.equal((await outcome(t.id)).state, TaskState.Complete, `${t.id} ${rec.state}`);
          }
        },
      );
    } finally {
      await c.close();
    }
  });

  it("discards records of configured final states", async () => {
    await work(
      { name: uniq() },
      new Router().handle("d", () => 1),
      async (c) => {
        const final = c.events({ final: true, queue: c.queue.name });
        const t = await c.enqueue(newTask("d", null));
        await firstMatch(final, (e) => e.taskId === t.id);
        final.close();
        await assert.rejects(c.loadTask(t.id), NotFoundError);
      },
      { discard: [TaskState.Complete] },
    );
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
