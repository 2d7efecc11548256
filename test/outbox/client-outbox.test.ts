import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import { OutboxPublisher } from "../../src/outbox/index.js";
import { finalOutcomes } from "../support/nats.js";
import { natsWithKeptStore } from "./support.js";

describe("Client enqueueing through an outbox", () => {
  let env: Awaited<ReturnType<typeof natsWithKeptStore>>;
  before(async () => {
    env = await natsWithKeptStore();
  });
  after(async () => {
    await env.cleanup();
  });

  it("tasks enqueued while NATS is down are durable at once and processed after it returns", async () => {
    const producerNats = await Client.connect({ servers: env.server.url, queue: "outboxed", logger: silentLogger });
    const outbox = new OutboxPublisher({
      outbox: join(env.dir, "producer.db"),
      connection: producerNats.nc,
      log: silentLogger,
    });
    outbox.on("error", () => {}); // publish failures while NATS is down are retried
    outbox.start();
    const producer = await Client.connect({
      connection: producerNats.nc,
      queue: "outboxed",
      logger: silentLogger,
      outbox,
    });
    const before = await producer.enqueueMany(Array.from({ length: 50 }, (_, i) => newTask("job", { i })));
    await outbox.drained();

    await env.server.stop();
    const during = await producer.enqueueMany(Array.from({ length: 50 }, (_, i) => newTask("job", { i: 50 + i })));
    assert.ok(outbox.stats().pending > 0, "buffered while NATS is down");
    await env.server.start();
    await outbox.drained();

    const worker = await Client.connect({ servers: env.server.url, queue: "outboxed", logger: silentLogger });
    const finals = finalOutcomes(worker.events({ final: true, queue: "outboxed" }));
    const seen = new Set<number>();
    const ac = new AbortController();
    const done = worker.run(
      new Router().handle("job", (t) => {
        seen.add((t.payload as { i: number }).i);
      }),
      { signal: ac.signal },
    );
    try {
      for (const t of [...before, ...during]) await finals.reached(t.id);
      assert.equal(seen.size, 100);
      assert.equal((await worker.loadTask(during[49]!.id)).state, TaskState.Complete);
      assert.equal((await worker.admin.queueInfo("outboxed")).depth, 0);
    } finally {
      ac.abort();
      await done;
      finals.close();
      await worker.close();
      await outbox.stop();
      await producer.close();
      await producerNats.close();
    }
  });
});
