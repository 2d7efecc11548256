import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { newTask, Router, type Task, TaskState } from "../../src/index.js";
import { useNatsServer, waitUntil } from "../support/nats.js";
import { startServe } from "../support/serve-process.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();

describe("delayed tasks with jetq serve as the scheduler", () => {
  it("survive a SIGKILL of the scheduler before their time and run once after its restart", async () => {
    const runs = new Map<string, number>();
    const startedAt = new Map<string, number>();
    const router = new Router().handle("t", (task: Task) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      if (!startedAt.has(task.id)) startedAt.set(task.id, Date.now());
    });
    const first = await startServe(["-a", nats.server.url]);
    try {
      await waitUntil(() => first.log().includes("scheduler ready"), 10_000, "the first instance leading");
      await withWorker(nats.server.url, { name: `q${randomUUID().slice(0, 8)}` }, router, async (c, outcome) => {
        const runAt = Date.now() + 1500;
        const t = await c.enqueue(newTask("t", "survivor", { runAt }));
        await first.kill();
        assert.ok(Date.now() < runAt, "killed before the task was due");
        assert.equal((await c.loadTask(t.id)).state, TaskState.Delayed);
        const second = await startServe(["-a", nats.server.url]);
        try {
          // The dead leader's claim ages out first; the overdue task then fires at once.
          assert.equal((await outcome(t.id)).state, TaskState.Complete);
          assert.ok(startedAt.get(t.id)! >= runAt, "not before its runAt");
          // A marker due after it: had the task been fired twice, the copy would have run by now.
          const marker = await c.enqueue(newTask("t", "marker", { delayMs: 200 }));
          await outcome(marker.id);
          assert.equal(runs.get(t.id), 1);
        } finally {
          await second.kill();
        }
      });
    } finally {
      await first.kill();
    }
  });
});
