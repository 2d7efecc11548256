import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { AckPolicy } from "@nats-io/jetstream";
import { Client, newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { DEFAULT_PRIORITY, levelConsumer, queueStream } from "../../src/jobs/storage/layout.js";
import { firstMatch, useNatsServer, waitUntil } from "../support/nats.js";

const nats = useNatsServer();
const fixture = new URL("./fixtures/worker-process.ts", import.meta.url).pathname;

async function startWorker(queue: string, mode: "hang" | "finish"): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", fixture, nats.server.url, queue, mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = await once(child.stdout!, "data");
  assert.match(String(line), /ready/);
  return child;
}

describe("crash safety", () => {
  it("a worker killed with SIGKILL mid-task loses nothing; completed tasks never run again", async () => {
    const queue = "crash1";
    const client = await Client.connect({
      servers: nats.server.url,
      queue: { name: queue, maxRunTimeMs: 1500 },
      logger: silentLogger,
    });
    const starts = new Map<string, number>();
    const sub = client.nc.subscribe("crash.started.*", {
      callback: (_e, m) => {
        const id = m.subject.split(".")[2] ?? "";
        starts.set(id, (starts.get(id) ?? 0) + 1);
      },
    });
    const final = client.events({ queue, final: true });
    try {
      const first = await startWorker(queue, "hang");
      const quick = await client.enqueueMany(Array.from({ length: 20 }, (_, i) => newTask("quick", { i })));
      const hang = await client.enqueue(newTask("hang", null));
      const done = new Set<string>();
      await firstMatch(final, (e) => {
        done.add(e.taskId);
        return quick.every((t) => done.has(t.id));
      });
      await waitUntil(() => (starts.get(hang.id) ?? 0) > 0, 10_000, "hang task start");
      first.kill("SIGKILL");
      await once(first, "exit");

      const second = await startWorker(queue, "finish");
      try {
        const f = await firstMatch(final, (e) => e.taskId === hang.id);
        assert.equal(f.state, TaskState.Complete);
        assert.equal((await client.loadTask(hang.id)).result?.value, "finished after crash");
        assert.equal(starts.get(hang.id), 2);
        for (const t of quick) assert.equal(starts.get(t.id), 1, `task ${t.id} ran more than once`);
      } finally {
        second.kill("SIGKILL");
        await once(second, "exit");
      }
    } finally {
      sub.unsubscribe();
      final.close();
      await client.close();
    }
  });

  it("a redelivered work item whose task is already recorded as finished is acknowledged without running", async () => {
    const queue = "crash2";
    const client = await Client.connect({
      servers: nats.server.url,
      queue: { name: queue, maxRunTimeMs: 500 },
      logger: silentLogger,
    });
    const ac = new AbortController();
    try {
      const task = await client.enqueue(newTask("once", null));
      // A "worker" takes the item and dies after recording completion but before acking.
      const consumer = await handlesOf(client.storage).js.consumers.get(
        queueStream(queue),
        levelConsumer(DEFAULT_PRIORITY),
      );
      const taken = await consumer.next({ expires: 5000 });
      assert.ok(taken);
      const info = await handlesOf(client.storage).jsm.consumers.info(
        queueStream(queue),
        levelConsumer(DEFAULT_PRIORITY),
      );
      assert.equal(info.config.ack_policy, AckPolicy.Explicit);
      await client.storage.saveRecord({
        ...task,
        state: TaskState.Complete,
        tries: 1,
        result: { value: 1, completedAt: Date.now() },
      });

      let ran = 0;
      const done = client.run(
        new Router().handle("once", () => ran++),
        { signal: ac.signal },
      );
      // After the ack wait the item is redelivered; the worker must ack it without running.
      await waitUntil(async () => (await client.admin.queueInfo(queue)).depth === 0, 10_000, "empty queue");
      assert.equal(ran, 0);
      assert.equal((await client.loadTask(task.id)).state, TaskState.Complete);
      ac.abort();
      await done;
    } finally {
      await client.close();
    }
  });
});
