import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Client, newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import { PULL_EXPIRES_MS } from "../../src/jobs/queue-intake.js";
import { DEFAULT_PRIORITY, levelConsumer, queueStream, TASKS_STREAM } from "../../src/jobs/storage/layout.js";
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

describe("losing the stream leader's node", () => {
  const cluster = new NatsCluster();
  before(async () => {
    await cluster.start(3);
  });
  after(async () => {
    await cluster.stop();
  });

  // The raft groups a task goes through — the queue's stream, its level consumer, the task stream —
  // need new leaders first: 4-9 s after a SIGKILL on 2.9 and 2.14 alike (the server's election
  // timeout), each on its own clock. A pull request the dead leader held is answered by nobody: it
  // is replaced after two missed heartbeats (one PULL_EXPIRES_MS; nats.js's default 30 s left a
  // queue standing still ~36 s), and again at each further miss until one reaches the new leader.
  // So once every group has a leader, the queue works again within a pull expiry.
  it("a queue works again within a pull expiry of its stream, consumer and task store electing new leaders after a SIGKILL", async (t) => {
    const queue = "failover";
    const client = await Client.connect({
      servers: cluster.urls,
      queue: { name: queue },
      replicas: 3,
      logger: silentLogger,
    });
    const ac = new AbortController();
    const final = client.events({ queue, final: true });
    const enqueuedAt = new Map<string, number>();
    let killedAt = Number.POSITIVE_INFINITY;
    let writableAgainAt = 0;
    let producing = true;
    const failedAfterKill: string[] = [];
    const producer = (async () => {
      for (let i = 0; producing; i++) {
        const t = newTask("f", i);
        try {
          await client.enqueue(t);
          const now = Date.now();
          enqueuedAt.set(t.id, now);
          if (now > killedAt && writableAgainAt === 0) writableAgainAt = now;
        } catch (err) {
          // An enqueue waits out the election (it is sent again while unanswered): none may fail.
          if (Date.now() > killedAt) failedAfterKill.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const done = client.run(
      new Router().handle("f", (t) => t.payload),
      { signal: ac.signal },
    );
    try {
      await firstMatch(final, () => true);
      const jsm = await jetstreamManager(client.nc);
      const leader = (await jsm.streams.info(queueStream(queue))).cluster?.leader;
      const node = cluster.nodes.find((n) => n.serverName === leader);
      assert.ok(node, `stream leader ${leader} is one of the nodes`);
      await node.kill();
      killedAt = Date.now();
      // When the consumer and the task stream answer with a leader again (the queue stream's is
      // `writableAgainAt`: an enqueue went through).
      let leadersAt = 0;
      const watchLeaders = (async () => {
        while (leadersAt === 0) {
          const ok = await Promise.all([
            jsm.consumers.info(queueStream(queue), levelConsumer(DEFAULT_PRIORITY)).then((c) => !!c.cluster?.leader),
            jsm.streams.info(TASKS_STREAM).then((i) => !!i.cluster?.leader),
          ]).then(
            (r) => r.every(Boolean),
            () => false,
          );
          if (ok) leadersAt = Date.now();
          else await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const e = await firstMatch(final, (ev) => (enqueuedAt.get(ev.taskId) ?? 0) > killedAt, 60_000);
      const doneAt = Date.now();
      await watchLeaders;
      assert.equal(e.state, TaskState.Complete);
      assert.deepEqual(failedAfterKill, [], "no enqueue failed while the stream elected a new leader");
      const ready = Math.max(writableAgainAt, Math.min(leadersAt, doneAt));
      const timings = `writable again ${writableAgainAt - killedAt} ms after the kill, consumer and task store led again after ${leadersAt - killedAt} ms, first task done ${doneAt - killedAt} ms after it`;
      t.diagnostic(timings);
      assert.ok(doneAt - ready < PULL_EXPIRES_MS + 1_000, timings);
    } finally {
      producing = false;
      await producer;
      ac.abort();
      await done;
      final.close();
      await client.close();
    }
  });
});
