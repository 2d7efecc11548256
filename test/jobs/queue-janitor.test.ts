import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Client, newTask, Router, silentLogger } from "../../src/index.js";
import { QueueJanitor } from "../../src/jobs/queue-janitor.js";
import { DEFAULT_PRIORITY, levelConsumer, queueStream } from "../../src/jobs/storage/layout.js";
import { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { waitUntil } from "../support/nats.js";

describe("queue janitor", () => {
  it("after a nats-server SIGKILL under load, no work item is left behind (and none whose task did not finish is dropped)", async () => {
    const server = await new NatsServerLauncher().start();
    const queue = "janitor";
    const c = await Client.connect({ servers: server.url, queue, logger: silentLogger, concurrency: 100 });
    const ac = new AbortController();
    let handled = 0;
    const done = c.run(
      new Router().handle("t", () => {
        handled++;
        return 1;
      }),
      { signal: ac.signal },
    );
    try {
      const enqueued = c.enqueueMany(Array.from({ length: 10_000 }, (_, i) => newTask("t", i))).catch(() => undefined);
      await waitUntil(() => handled >= 2_000, 30_000, "processing under way");
      await server.kill();
      await server.start();
      await enqueued;
      // The restarted server may take a while to answer JetStream requests (it recovers its streams).
      let jsm: Awaited<ReturnType<typeof jetstreamManager>> | undefined;
      await waitUntil(
        async () => {
          jsm = await jetstreamManager(c.nc).catch(() => undefined);
          return jsm !== undefined;
        },
        60_000,
        "JetStream answering",
      );
      const stream = queueStream(queue);
      // Wait until the worker has nothing left to do: nothing pending, nothing in flight.
      await waitUntil(
        async () => {
          try {
            const ci = await jsm!.consumers.info(stream, levelConsumer(DEFAULT_PRIORITY));
            return ci.num_pending === 0 && ci.num_ack_pending === 0;
          } catch {
            return false;
          }
        },
        60_000,
        "queue drained",
      );
      const before = (await jsm!.streams.info(stream)).state.messages;
      const janitor = new QueueJanitor({
        storage: c.storage,
        put: (t, id) => c.engine.enqueuer.put(t, id),
        log: silentLogger,
      });
      const r = await janitor.sweep(queue);
      assert.equal(r.removed + r.requeued, before, `the sweep accounts for every item left (${before})`);
      assert.equal(r.requeued, 0, "every item left behind belonged to a finished task");
      assert.equal((await jsm!.streams.info(stream)).state.messages, 0);
      assert.deepEqual(await janitor.sweep(queue), { removed: 0, requeued: 0 });
    } finally {
      ac.abort();
      await done;
      await c.close();
      await server.stop();
    }
  });
});
