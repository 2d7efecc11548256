import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { Client, newTask, silentLogger } from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { versionAtLeast } from "../../src/nats/server-features.js";
import { memoryLogger } from "../support/memory-logger.js";
import { useNatsServer, waitUntil } from "../support/nats.js";

const nats = useNatsServer();
const uniq = () => `q${randomUUID().slice(0, 8)}`;
const ms = (nanos: number) => nanos / 1_000_000;

describe("queue settings: warnings and updates", () => {
  it("warns, naming the settings, when connect() asks for settings the stored queue does not have", async () => {
    const q = uniq();
    const first = await Client.connect({
      servers: nats.server.url,
      queue: { name: q, maxTries: 3 },
      logger: silentLogger,
    });
    const log = memoryLogger();
    const second = await Client.connect({
      servers: nats.server.url,
      queue: { name: q, maxTries: 5, maxConcurrent: 100, maxRunTimeMs: 10_000 },
      logger: log,
    });
    try {
      const warnings = log.lines.filter((l) => l.includes(" warn "));
      assert.equal(warnings.length, 1, log.lines.join("\n"));
      assert.match(warnings[0]!, /maxTries: given 5, stored 3/);
      assert.match(warnings[0]!, /maxRunTimeMs: given 10000, stored 3600000/);
      assert.doesNotMatch(warnings[0]!, /maxConcurrent/, "a setting equal to the stored one is not named");
      assert.equal(second.queue.maxTries, 3, "the stored settings apply");
      const quiet = memoryLogger();
      await (
        await Client.connect({ servers: nats.server.url, queue: { name: q, maxTries: 3 }, logger: quiet })
      ).close();
      assert.deepEqual(quiet.lines, []);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it("applies what JetStream can change to the stream, consumers and dead-letter stream, then the definition", async () => {
    const q = uniq();
    const c = await Client.connect({ servers: nats.server.url, queue: { name: q }, logger: silentLogger });
    try {
      // Level consumers are made on first use: tasks at levels 0 and 9 make theirs.
      await c.enqueueMany([newTask("t", 0, { priority: 0 }), newTask("t", 9, { priority: 9 })]);
      const r = await c.updateQueue(q, {
        maxAgeMs: 3_600_000,
        maxEntries: 500,
        discardOld: true,
        maxRunTimeMs: 2_000,
        maxConcurrent: 7,
        maxTries: 4,
        deadLetterRetentionMs: 60_000,
      });
      assert.deepEqual(
        [...r.changed].sort(),
        [
          "deadLetterRetentionMs",
          "discardOld",
          "maxAgeMs",
          "maxConcurrent",
          "maxEntries",
          "maxRunTimeMs",
          "maxTries",
          "redeliverAfterMs",
        ],
        "redeliverAfterMs follows a lower maxRunTimeMs",
      );
      const jsm = handlesOf(c.storage).jsm;
      const stream = (await jsm.streams.info(`JETQ_Q_${q}`)).config;
      assert.equal(ms(stream.max_age), 3_600_000);
      assert.equal(stream.max_msgs, 500);
      assert.equal(stream.discard, "old");
      for (const level of [0, 5, 9]) {
        const consumer = (await jsm.consumers.info(`JETQ_Q_${q}`, `WORKERS_P${level}`)).config;
        assert.equal(ms(consumer.ack_wait ?? 0), 2_000);
        assert.equal(consumer.max_ack_pending, 7);
      }
      assert.equal(ms((await jsm.streams.info(`JETQ_DLQ_${q}`)).config.max_age), 60_000);
      const other = await Client.connect({ servers: nats.server.url, queue: q, logger: silentLogger });
      assert.equal(other.queue.maxTries, 4, "a new client reads the new definition");
      await other.close();
      assert.deepEqual((await c.updateQueue(q, { maxTries: 4 })).changed, [], "no change, nothing written");
    } finally {
      await c.close();
    }
  });

  it("refuses a rename, unknown settings, and limits that would remove queued tasks unless allowed", async () => {
    const q = uniq();
    const c = await Client.connect({ servers: nats.server.url, queue: { name: q }, logger: silentLogger });
    try {
      await assert.rejects(c.updateQueue(q, { name: "other" } as never), { code: "queue_setting_immutable" });
      await assert.rejects(c.updateQueue(q, { colour: "red" } as never), { code: "invalid_queue_config" });
      await assert.rejects(c.updateQueue(q, { maxTries: 0 }), { code: "invalid_queue_config" });
      await assert.rejects(c.updateQueue("missing-queue", { maxTries: 2 }), { code: "queue_not_found" });
      const enqueuedAt = Date.now();
      await c.enqueueMany([1, 2, 3].map((n) => newTask("t", n)));
      await assert.rejects(c.updateQueue(q, { maxEntries: 2 }), { code: "queue_update_drops_tasks" });
      // The smallest max age a queue takes is 100 ms: once the items are older, it would drop them.
      await waitUntil(() => Date.now() - enqueuedAt > 250, 5000, "items older than 250 ms");
      await assert.rejects(c.updateQueue(q, { maxAgeMs: 100 }), { code: "queue_update_drops_tasks" });
      assert.equal((await c.admin.queueInfo(q)).depth, 3);
      assert.equal(
        (await c.updateQueue(q, { maxEntries: 10 })).queue.maxEntries,
        10,
        "a limit above the depth is fine",
      );
      await c.updateQueue(q, { maxEntries: 2 }, { allowDrop: true });
      // nats-server 2.9 trims to the new limit; 2.11+ keeps what is stored and refuses new items.
      const depth = (await c.admin.queueInfo(q)).depth;
      assert.equal(
        depth,
        versionAtLeast(nats.server.version, 2, 11) ? 3 : 2,
        "allowDrop lets JetStream apply the limit",
      );
      await assert.rejects(c.enqueue(newTask("t", 4)), { code: "publish_rejected" });
    } finally {
      await c.close();
    }
  });
});
