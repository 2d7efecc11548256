import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import { silentLogger } from "../../src/logger.js";
import { connectNats } from "../../src/nats/connect.js";
import type { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { type BacklogEvent, OutboxFullError, OutboxPublisher } from "../../src/outbox/index.js";
import { addStream, natsWithKeptStore, readStream, sequenceProblem } from "./support.js";

describe("OutboxPublisher", () => {
  let env: Awaited<ReturnType<typeof natsWithKeptStore>>;
  let server: NatsServerLauncher;
  let nc: NatsConnection;

  before(async () => {
    env = await natsWithKeptStore();
    server = env.server;
    nc = await connectNats({ servers: server.url });
  });
  after(async () => {
    await nc.close();
    await env.cleanup();
  });

  it("NATS stopped while 10,000 messages are written: each arrives once, in order, after the restart", async () => {
    await addStream(nc, "OUTAGE", ["outage.>"]);
    const pub = new OutboxPublisher({ outbox: join(env.dir, "outage.db"), connection: nc, log: silentLogger });
    const disconnected = new Promise<void>((resolve) => {
      pub.on("connection", (state) => {
        if (state === "disconnected") resolve();
      });
    });
    pub.on("error", () => {}); // failures while NATS is down are expected; they are retried
    pub.start();
    const total = 10_000;
    const write = async (from: number, to: number) => {
      for (let i = from; i < to; i += 250) {
        const n = Math.min(250, to - i);
        await Promise.all(Array.from({ length: n }, (_, j) => pub.publish("outage.m", Buffer.from(`m-${i + j}`))));
      }
    };
    await write(0, 2000);
    const stopping = server.stop(); // NATS goes down while the producer keeps writing
    await write(2000, 6000);
    await stopping;
    await disconnected;
    await write(6000, total); // accepted and durable while NATS is down
    const s = pub.stats();
    assert.ok(s.pending > 0, "a backlog waits while NATS is down");
    assert.equal(s.connected, false);
    assert.ok(s.oldestAgeMs >= 0);

    await server.start();
    await pub.drained();
    const after = pub.stats();
    assert.equal(after.pending, 0);
    assert.ok(after.flushedTotal >= total - 2000, `flushed ${after.flushedTotal}`);
    await pub.stop();

    const got = await readStream(nc, "OUTAGE");
    assert.equal(
      sequenceProblem(
        got.map((m) => m.data),
        0,
        total,
      ),
      undefined,
    );
    assert.equal(new Set(got.map((m) => m.msgId)).size, total, "every message has its own Nats-Msg-Id");
  });

  it("nats-server killed (SIGKILL) mid-write and restarted on its store: each message once, in order", async () => {
    await addStream(nc, "KILLED", ["killed.>"]);
    const pub = new OutboxPublisher({ outbox: join(env.dir, "killed.db"), connection: nc, log: silentLogger });
    pub.on("error", () => {});
    pub.start();
    const total = 10_000;
    const write = async (from: number, to: number) => {
      for (let i = from; i < to; i += 250) {
        const n = Math.min(250, to - i);
        await Promise.all(Array.from({ length: n }, (_, j) => pub.publish("killed.m", Buffer.from(`m-${i + j}`))));
      }
    };
    await write(0, 4000);
    const killing = server.kill();
    await write(4000, total);
    await killing;
    await server.start();
    await pub.drained();
    await pub.stop();
    const got = await readStream(nc, "KILLED");
    assert.equal(
      sequenceProblem(
        got.map((m) => m.data),
        0,
        total,
      ),
      undefined,
    );
  });

  it("uses the given msgId and headers; the same msgId is stored once", async () => {
    await addStream(nc, "IDS", ["ids.>"]);
    const pub = new OutboxPublisher({ outbox: join(env.dir, "ids.db"), connection: nc, log: silentLogger });
    pub.start();
    await pub.publish("ids.a", Buffer.from("m-0"), { msgId: "task-1", headers: { "X-Kind": "first" } });
    await pub.publish("ids.a", Buffer.from("m-0"), { msgId: "task-1" });
    await pub.publish("ids.a", Buffer.from("m-1"));
    await pub.drained();
    const got = await readStream(nc, "IDS");
    assert.deepEqual(
      got.map((m) => m.data),
      ["m-0", "m-1"],
    );
    assert.equal(got[0]!.msgId, "task-1");
    assert.equal(got[1]!.msgId, `${pub.outbox.id}:3`, "a derived id is <outbox id>:<seq>");
    assert.equal(pub.stats().duplicatesTotal, 1);
    await pub.stop();
  });

  it("reports flushes, backlog and drain as events and stats", async () => {
    await addStream(nc, "EVENTS", ["events.>"]);
    const pub = new OutboxPublisher({
      outbox: join(env.dir, "events.db"),
      connection: nc,
      log: silentLogger,
      backlogIntervalMs: 20,
    });
    const flushed: number[] = [];
    pub.on("flushed", (e) => flushed.push(e.count));
    const backlog = once(pub, "backlog", { signal: AbortSignal.timeout(10_000) });
    const drained = once(pub, "drained", { signal: AbortSignal.timeout(10_000) });
    await Promise.all(Array.from({ length: 500 }, (_, i) => pub.publish("events.m", Buffer.from(`m-${i}`))));
    assert.equal(pub.stats().pending, 500, "nothing is sent before start()");
    pub.start();
    const [b] = (await backlog) as [BacklogEvent];
    assert.ok(b.pending >= 0 && b.oldestAgeMs >= 0);
    await drained;
    assert.equal(
      flushed.reduce((a, n) => a + n, 0),
      500,
    );
    const s = pub.stats();
    assert.equal(s.flushedTotal, 500);
    assert.ok(s.flushRate > 0);
    assert.equal(s.pending, 0);
    assert.equal(s.connected, true);
    await pub.stop();
  });

  it("rejects with outbox_full at maxEntries while NATS is away, and stop() keeps the backlog", async () => {
    const path = join(env.dir, "full.db");
    const pub = new OutboxPublisher({
      outbox: path,
      nats: { servers: "nats://127.0.0.1:1" },
      maxEntries: 100,
      log: silentLogger,
    });
    pub.start();
    const results = await Promise.allSettled(
      Array.from({ length: 150 }, (_, i) => pub.publish("full.m", Buffer.from(`m-${i}`))),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 100);
    const rejected = results.filter((r) => r.status === "rejected");
    assert.equal(rejected.length, 50);
    const err = (rejected[0] as PromiseRejectedResult).reason as OutboxFullError;
    assert.ok(err instanceof OutboxFullError);
    assert.equal(err.code, "outbox_full");
    assert.equal(err.limit, "maxEntries");
    assert.match(err.message, /full\.db/);
    await pub.stop();
    await assert.rejects(pub.publish("full.m", Buffer.from("late")), { code: "outbox_closed" });
    const again = new OutboxPublisher({ outbox: path, connection: nc, log: silentLogger });
    assert.equal(again.stats().pending, 100);
    await again.stop();
  });

  it("warns when a backlog left by an earlier run is older than the duplicate window", async () => {
    await addStream(nc, "LATE", ["late.>"]);
    const path = join(env.dir, "late.db");
    const a = new OutboxPublisher({ outbox: path, connection: nc, log: silentLogger });
    a.start();
    await a.publish("late.m", Buffer.from("m-0"));
    await a.drained();
    await a.stop();
    const b = new OutboxPublisher({ outbox: path, nats: { servers: "nats://127.0.0.1:1" }, log: silentLogger });
    await b.publish("late.m", Buffer.from("m-1"));
    await b.stop();
    await delay(5); // the point of the test: more time than the 1 ms window passes before the next start
    const c = new OutboxPublisher({ outbox: path, connection: nc, duplicateWindowMs: 1, log: silentLogger });
    const warned = new Promise<Error>((resolve) => c.on("error", resolve));
    c.start();
    const err = (await warned) as Error & { code: string };
    assert.equal(err.code, "outbox_dedupe_window_exceeded");
    assert.match(err.message, /late\.db/);
    await c.drained();
    await c.stop();
  });

  it("rejects a payload over the server's max_payload before writing it", async () => {
    const pub = new OutboxPublisher({ outbox: join(env.dir, "big.db"), connection: nc, log: silentLogger });
    const max = nc.info?.max_payload ?? 1024 * 1024;
    await assert.rejects(pub.publish("big.m", new Uint8Array(max + 1)), { code: "payload_too_large" });
    assert.equal(pub.stats().pending, 0);
    await pub.stop();
  });
});
