import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { Client, newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import {
  DEFAULT_PRIORITY,
  levelConsumer,
  queueStream,
  RECORD_HEADERS,
  TASKS_STREAM,
  taskSubject,
  workSubject,
} from "../../src/jobs/storage/layout.js";
import { encodeTask } from "../../src/jobs/storage/task-codec.js";
import { uniqueQueue } from "../support/client.js";
import { memoryLogger } from "../support/memory-logger.js";
import { deferred, firstMatch, useNatsServer, waitUntil } from "../support/nats.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
const fixture = new URL("./fixtures/worker-process.ts", import.meta.url).pathname;

describe("outcomes and redeliveries", () => {
  it("an outcome the task store refuses is retried: the handler never runs again and no nak is sent", async () => {
    const queue = uniqueQueue();
    const log = memoryLogger();
    let runs = 0;
    const started = deferred();
    const gate = deferred();
    const router = new Router().handle("once", async () => {
      runs++;
      started.resolve();
      await gate.promise;
      return "done";
    });
    await withWorker(
      nats.server.url,
      { name: queue, maxTries: 3 },
      router,
      async (c, outcome) => {
        const jsm = await jetstreamManager(c.nc);
        const t = await c.enqueue(newTask("once", null));
        await started.promise;
        // The task store stops taking records (publishes to jetq.task.* get no responders).
        const cfg = (await jsm.streams.info(TASKS_STREAM)).config;
        await jsm.streams.update(TASKS_STREAM, { ...cfg, subjects: ["jetq.parked.*"] });
        gate.resolve();
        await waitUntil(() => log.lines.some((l) => l.includes("could not record a task outcome")), 10_000, "retry");
        const ci = await jsm.consumers.info(queueStream(queue), levelConsumer(DEFAULT_PRIORITY));
        assert.equal(ci.num_redelivered, 0, "the item was not handed back");
        assert.equal(ci.num_ack_pending, 1);
        await jsm.streams.update(TASKS_STREAM, cfg);
        const rec = await outcome(t.id);
        assert.equal(rec.state, TaskState.Complete);
        assert.equal(rec.tries, 1);
        assert.equal(runs, 1);
      },
      { logger: log },
    );
  });

  it("every record a try writes carries the headers of its own queue, state and type", async () => {
    const queue = uniqueQueue();
    let tries = 0;
    const router = new Router().handle("twice", async () => {
      // The first try lasts past the active record's delay, then fails; the second completes.
      if (++tries === 1) {
        await new Promise((r) => setTimeout(r, 300));
        throw new Error("first try fails");
      }
      return "ok";
    });
    await withWorker(nats.server.url, { name: queue, maxTries: 3 }, router, async (c, outcome) => {
      const t = newTask("twice", null);
      const records = c.nc.subscribe(taskSubject(t.id));
      const seen: { header: Record<string, string>; state: string; queue: string; type: string }[] = [];
      const collected = (async () => {
        for await (const m of records) {
          const body = JSON.parse(new TextDecoder().decode(m.data));
          const header = Object.fromEntries(Object.values(RECORD_HEADERS).map((k) => [k, m.headers?.get(k) ?? ""]));
          seen.push({ header, state: body.state, queue: body.queue, type: body.type });
        }
      })();
      await c.nc.flush();
      await c.enqueue(t);
      assert.equal((await outcome(t.id)).state, TaskState.Complete);
      records.unsubscribe();
      await collected;
      assert.deepEqual(
        seen.map((r) => r.state),
        [TaskState.Active, TaskState.Retry, TaskState.Complete],
      );
      for (const r of seen) {
        assert.deepEqual(r.header, {
          [RECORD_HEADERS.queue]: r.queue,
          [RECORD_HEADERS.state]: r.state,
          [RECORD_HEADERS.type]: r.type,
        });
      }
    });
  });

  it("a delivery of a finished task never runs, whatever its delivery count; a retried run does", async () => {
    const queue = uniqueQueue();
    const runs = new Map<string, number>();
    const router = new Router().handle("replay", (t) => {
      runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
      return runs.get(t.id);
    });
    await withWorker(nats.server.url, { name: queue }, router, async (c, outcome) => {
      const t = await c.enqueue(newTask("replay", null));
      assert.equal((await outcome(t.id)).result?.value, 1);
      // Replay the work item as anyone allowed to publish to the work subjects could (new msg id).
      const replayed = { ...t, state: TaskState.New, tries: 0 };
      const h = headers();
      h.set("Nats-Msg-Id", `${t.id}:replay`);
      const jsm = await jetstreamManager(c.nc);
      await c.nc.request(workSubject(queue, t.id, DEFAULT_PRIORITY), encodeTask(replayed), {
        headers: h,
        timeout: 5000,
      });
      await waitUntil(
        async () => (await jsm.streams.info(queueStream(queue))).state.messages === 0,
        10_000,
        "replay settled",
      );
      assert.equal(runs.get(t.id), 1, "the replayed item did not run");
      assert.equal((await c.loadTask(t.id)).result?.value, 1);
      // retryTask starts a new run, which does run; a replay of the earlier run still does not.
      const final = c.events({ queue, final: true });
      await c.retryTask(t.id);
      await firstMatch(final, (e) => e.taskId === t.id);
      assert.equal(runs.get(t.id), 2);
      const again = headers();
      again.set("Nats-Msg-Id", `${t.id}:replay2`);
      await c.nc.request(workSubject(queue, t.id, DEFAULT_PRIORITY), encodeTask(replayed), {
        headers: again,
        timeout: 5000,
      });
      await waitUntil(
        async () => (await jsm.streams.info(queueStream(queue))).state.messages === 0,
        10_000,
        "replay settled",
      );
      assert.equal(runs.get(t.id), 2);
      assert.equal((await c.loadTask(t.id)).run, 1);
      final.close();
    });
  });

  it("the items of a SIGKILLed worker reach live workers after the queue's redeliverAfterMs, not 30 s", async () => {
    const queue = uniqueQueue();
    const c = await Client.connect({ servers: nats.server.url, queue, logger: silentLogger });
    const redeliverAfterMs = c.queue.redeliverAfterMs;
    assert.ok(redeliverAfterMs <= 5_000, `default redeliverAfterMs is ${redeliverAfterMs}`);
    const started = new Set<string>();
    const sub = c.nc.subscribe("crash.started.*", {
      callback: (_e, m) => {
        started.add(m.subject.split(".")[2]!);
      },
    });
    const final = c.events({ queue, final: true });
    let child: ChildProcess | undefined;
    const ac = new AbortController();
    let done: Promise<void> | undefined;
    try {
      child = spawn(process.execPath, ["--import", "tsx", fixture, nats.server.url, queue, "hang"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const [line] = await once(child.stdout!, "data");
      assert.match(String(line), /ready/);
      const tasks = await c.enqueueMany(Array.from({ length: 5 }, () => newTask("hang", null)));
      await waitUntil(() => tasks.every((t) => started.has(t.id)), 10_000, "tasks started in the child");
      child.kill("SIGKILL");
      await once(child, "exit");
      const killedAt = Date.now();
      done = c.run(
        new Router().handle("hang", () => "rescued"),
        { signal: ac.signal },
      );
      const rescued = new Set<string>();
      await firstMatch(
        final,
        (e) => {
          rescued.add(e.taskId);
          return tasks.every((t) => rescued.has(t.id));
        },
        30_000,
      );
      const took = Date.now() - killedAt;
      assert.ok(took < redeliverAfterMs + 5_000, `rescued after ${took} ms`);
    } finally {
      ac.abort();
      await done;
      sub.unsubscribe();
      final.close();
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await c.close();
    }
  });
});
