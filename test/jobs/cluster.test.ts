import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import { NatsCluster } from "../../src/nats/nats-server-launcher.js";
import { firstMatch } from "../support/nats.js";

describe("replicated storage on a 3-node cluster", () => {
  const cluster = new NatsCluster();
  before(async () => {
    await cluster.start(3);
  });
  after(async () => {
    await cluster.stop();
  });

  it("keeps enqueueing and processing with one node stopped", async () => {
    const client = await Client.connect({
      servers: cluster.urls,
      queue: { name: "replicated", maxRunTimeMs: 2000 },
      replicas: 3,
      logger: silentLogger,
      retryPolicy: () => 100,
    });
    const ac = new AbortController();
    const final = client.events({ queue: "replicated", final: true });
    try {
      const info = await client.admin.queueInfo("replicated");
      assert.equal(info.stream.config.num_replicas, 3);
      const done = client.run(
        new Router().handle("r", (t) => t.payload),
        { signal: ac.signal },
      );
      const before = await client.enqueueMany(Array.from({ length: 50 }, (_, i) => newTask("r", i)));
      const seen = new Set<string>();
      await firstMatch(final, (e) => {
        seen.add(e.taskId);
        return before.every((t) => seen.has(t.id));
      });

      await cluster.nodes[0]!.stop();
      const afterStop = await client.enqueueMany(Array.from({ length: 50 }, (_, i) => newTask("r", 100 + i)));
      await firstMatch(
        final,
        (e) => {
          seen.add(e.taskId);
          return afterStop.every((t) => seen.has(t.id));
        },
        60_000,
      );
      const last = await client.loadTask(afterStop[49]!.id);
      assert.equal(last.state, TaskState.Complete);
      assert.equal(last.result?.value, 149);
      ac.abort();
      await done;
    } finally {
      final.close();
      await client.close();
    }
  });
});
