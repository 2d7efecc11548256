import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { newTask, Router, TerminateTask } from "../../src/index.js";
import { sampleQueueRates } from "../../src/jobs/storage/queue-rates.js";
import { useNatsServer } from "../support/nats.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();

describe("queue rates", () => {
  it("counts enqueued, finished and dead-lettered tasks per second over the sample", async () => {
    const q = `q${randomUUID().slice(0, 8)}`;
    const router = new Router()
      .handle("ok", () => "done")
      .handle("bad", () => {
        throw new TerminateTask("no");
      });
    await withWorker(nats.server.url, { name: q }, router, async (c) => {
      const idle = await sampleQueueRates(c.storage, [q, "no-such-queue"], 50);
      assert.deepEqual([...idle.keys()], [q], "a missing queue is left out");
      assert.deepEqual(idle.get(q), { enqueuedPerSec: 0, finishedPerSec: 0, deadLetteredPerSec: 0 });
      const sampling = sampleQueueRates(c.storage, [q], 1000);
      let sampled = false;
      void sampling.then(() => {
        sampled = true;
      });
      let n = 0;
      while (!sampled) await c.enqueue(newTask(n++ % 2 === 0 ? "ok" : "bad", n)); // work throughout the sample
      const r = (await sampling).get(q)!;
      assert.ok(r.enqueuedPerSec > 0 && r.finishedPerSec > 0 && r.deadLetteredPerSec > 0, JSON.stringify(r));
      assert.ok(r.enqueuedPerSec <= n / 0.9, "no more than were enqueued");
    });
  });
});
