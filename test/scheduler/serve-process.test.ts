import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { ELECTIONS_BUCKET } from "../../src/jobs/storage/layout.js";
import { SCHEDULES_STREAM } from "../../src/jobs/storage/schedule-codec.js";
import { connectNats } from "../../src/nats/connect.js";
import { SCHEDULE_API } from "../../src/scheduler/schedule-api.js";
import { collect } from "../support/collect.js";
import { useNatsServer, waitUntil } from "../support/nats.js";
import { startServe } from "../support/serve-process.js";

const nats = useNatsServer();

async function scheduleViaApi(nc: NatsConnection, id: string, subject: string, dueMs: number): Promise<void> {
  const r = await nc.request(
    SCHEDULE_API.add,
    JSON.stringify({ id, subject, when: (dueMs / 1000).toFixed(3), payload: id }),
    { timeout: 5000 },
  );
  assert.equal(r.json<{ ok: boolean }>().ok, true);
}

function gozo(nc: NatsConnection, id: string, reply: string, dueMs: number): void {
  const h = headers();
  h.set("Gozo-When", (dueMs / 1000).toFixed(3));
  h.set("Gozo-Id", id);
  nc.publish("gozo", id, { headers: h, reply });
}

function countIds(got: { msg: { string(): string } }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const g of got) counts.set(g.msg.string(), (counts.get(g.msg.string()) ?? 0) + 1);
  return counts;
}

describe("jetq serve processes", () => {
  it("SIGKILL with pending schedules loses none: after a restart each fires once, late ones at once", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    const a = await startServe(["-a", nats.server.url]);
    const out = collect(nc, "restart.out");
    try {
      const t0 = Date.now();
      const ids = Array.from({ length: 150 }, (_, i) => `r${i}`);
      await Promise.all(ids.slice(0, 100).map((id, i) => scheduleViaApi(nc, id, "restart.out", t0 + 800 + i * 10)));
      for (const id of ids.slice(100)) gozo(nc, id, "restart.out", t0 + 2500);
      await waitUntil(
        async () => (await jsm.streams.info(SCHEDULES_STREAM)).state.messages >= 150,
        10_000,
        "all stored",
      );
      await a.kill();
      assert.equal(out.got.length, 0, "nothing fired before the kill");
      await new Promise((r) => setTimeout(r, 900)); // let the first ones become overdue while no scheduler runs
      const b = await startServe(["-a", nats.server.url]);
      try {
        // The dead leader's claim must age out (election TTL) before b leads and loads the schedules.
        await waitUntil(() => b.log().includes("scheduler ready"), 10_000, "b leading");
        const readyAt = Date.now();
        await out.waitFor(150, 15_000);
        const firstLate = out.got.find((g) => g.msg.string() === "r0")!;
        assert.ok(firstLate.at - readyAt < 1000, `overdue schedule fired ${firstLate.at - readyAt} ms after restart`);
        // A marker due after everything else: once it arrives, any duplicate fire would have too.
        await scheduleViaApi(nc, "marker", "restart.out", Date.now() + 300);
        await out.waitFor(151);
        const counts = countIds(out.got);
        for (const id of ids) assert.equal(counts.get(id), 1, `${id} fired ${counts.get(id) ?? 0} times`);
      } finally {
        await b.kill();
      }
    } finally {
      await a.kill();
      out.sub.unsubscribe();
      await nc.close();
    }
  });

  it("two instances: each schedule fires once; SIGKILL the leader and the other takes over within seconds", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const kv = await new Kvm(nc).create(ELECTIONS_BUCKET, { ttl: 3000 });
    const a = await startServe(["-a", nats.server.url]);
    const b = await startServe(["-a", nats.server.url]);
    const out = collect(nc, "ha.out");
    try {
      let leaderName = "";
      // A leader of an earlier test may still hold the claim until it ages out.
      await waitUntil(async () => {
        leaderName = (await kv.get("scheduler"))?.string() ?? "";
        return [a, b].some((p) => leaderName.endsWith(`:${p.child.pid}`));
      });
      const [leader, follower] = leaderName.endsWith(`:${a.child.pid}`) ? [a, b] : [b, a];
      assert.ok(leaderName.endsWith(`:${leader.child.pid}`), `leader ${leaderName}`);

      const t0 = Date.now();
      for (let i = 0; i < 100; i++) gozo(nc, `ha${i}`, "ha.out", t0 + 300 + i * 3);
      await out.waitFor(100);
      await scheduleViaApi(nc, "ha-marker", "ha.out", Date.now() + 200);
      await out.waitFor(101);

      const t1 = Date.now();
      for (let i = 0; i < 100; i++) await scheduleViaApi(nc, `hb${i}`, "ha.out", t1 + 1000 + i * 5);
      await leader.kill();
      const killedAt = Date.now();
      await out.waitFor(201, 20_000);
      const takeover = out.got[101]!.at - killedAt;
      assert.ok(takeover < 6000, `takeover took ${takeover} ms`);
      assert.ok((await kv.get("scheduler"))?.string()?.endsWith(`:${follower.child.pid}`));
      await scheduleViaApi(nc, "hb-marker", "ha.out", Date.now() + 200);
      await out.waitFor(202);
      const counts = countIds(out.got);
      for (const [id, n] of counts) assert.equal(n, 1, `${id} fired ${n} times`);
      assert.equal(counts.size, 202);
    } finally {
      await a.kill();
      await b.kill();
      out.sub.unsubscribe();
      await nc.close();
    }
  });
});
