import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../src/nats/connect.js";
import { NatsCluster } from "../../src/nats/nats-server-launcher.js";
import { SCHEDULE_API } from "../../src/scheduler/schedule-api.js";
import { SchedulerService } from "../../src/scheduler/scheduler-service.js";
import { collect } from "../support/collect.js";
import { memoryLogger } from "../support/memory-logger.js";
import { waitUntil } from "../support/nats.js";
import { storageOn } from "../support/storage.js";

describe("scheduler HA on a 3-node cluster (replicas 3)", () => {
  const cluster = new NatsCluster();
  before(async () => {
    await cluster.start(3);
  });
  after(async () => {
    await cluster.stop();
  });

  it("the leader's process and a node die; the other instance fires every schedule once", async () => {
    const conns: NatsConnection[] = [];
    const open = async (url: string) => {
      const nc = await connectNats({ servers: url });
      conns.push(nc);
      return nc;
    };
    const [u0, u1, u2] = cluster.urls as [string, string, string];
    const ncA = await open(u0);
    const ncB = await open(u1);
    const client = await open(u2);
    const log = memoryLogger();
    const a = new SchedulerService({
      storage: await storageOn(ncA, { replicas: 3 }),
      log: log.child({ svc: "a" }),
      electionTtlMs: 1500,
      name: "a",
    });
    const b = new SchedulerService({
      storage: await storageOn(ncB, { replicas: 3 }),
      log: log.child({ svc: "b" }),
      electionTtlMs: 1500,
      name: "b",
    });
    await a.start();
    await b.start();
    const out = collect(client, "ha.cluster");
    try {
      await waitUntil(() => a.isLeader || b.isLeader);
      const [leader, leaderNc, other] = a.isLeader ? [a, ncA, b] : [b, ncB, a];
      const t0 = Date.now();
      for (let i = 0; i < 50; i++) {
        const r = await client.request(
          SCHEDULE_API.add,
          JSON.stringify({
            id: `c${i}`,
            subject: "ha.cluster",
            when: ((t0 + 1500 + i * 10) / 1000).toFixed(3),
            payload: `c${i}`,
          }),
          { timeout: 5000 },
        );
        assert.equal(r.json<{ ok: boolean }>().ok, true);
      }
      // The leader crashes (its connection is gone, its claim ages out) and node 0 goes down.
      await leaderNc.close();
      await cluster.nodes[0]!.stop();
      await out.waitFor(50, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}; scheduler log:\n${log.lines.join("\n")}`);
      });
      assert.ok(other.isLeader);
      // A marker due after the rest: once it arrives, a duplicate fire would have too.
      await client.request(
        SCHEDULE_API.add,
        JSON.stringify({ subject: "ha.cluster", when: "+200ms", payload: "marker" }),
        { timeout: 5000 },
      );
      await out.waitFor(51);
      out.got.pop();
      const ids = out.got.map((g) => g.msg.string());
      assert.equal(new Set(ids).size, 50, "each schedule fired once");
      await leader.stop().catch(() => undefined);
    } finally {
      out.sub.unsubscribe();
      await a.stop().catch(() => undefined);
      await b.stop().catch(() => undefined);
      for (const nc of conns) if (!nc.isClosed()) await nc.close();
    }
  });
});
