import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../src/nats/connect.js";
import type { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { Outbox } from "../../src/outbox/index.js";
import { addStream, natsWithKeptStore, nextReconnect, Producer, readStream, sequenceProblem } from "./support.js";

describe("outbox producer killed with SIGKILL", () => {
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

  it("mid-flush: the restarted producer flushes the backlog, nothing lost or duplicated", async () => {
    await addStream(nc, "CRASH1", ["crash1.>"]);
    const db = join(env.dir, "crash1.db");
    const total = 20_000;
    const first = new Producer({ db, url: server.url, subject: "crash1.m", from: 0, count: total });
    await first.line((l) => l.startsWith("flushed "));
    await first.kill();
    const durable = first.durable;
    assert.ok(durable > 0, "the producer reported durable messages before it was killed");

    const box = Outbox.open(db);
    const left = box.size;
    const all = box.all();
    box.close();
    assert.ok(left > 0, "the outbox is not empty after the kill");
    const committed =
      Number(
        Buffer.from(all[all.length - 1]!.data)
          .toString()
          .slice(2),
      ) + 1;
    assert.ok(committed >= durable, "every message reported durable is in the outbox or the stream");

    const second = new Producer({ db, url: server.url, subject: "crash1.m", from: 0, count: 0 });
    await second.line((l) => l.startsWith("drained"));
    await second.exited;

    const got = (await readStream(nc, "CRASH1")).map((m) => m.data);
    assert.equal(sequenceProblem(got, 0, committed), undefined);
  });

  it("NATS down while it writes: a producer restarted before NATS is back delivers everything once", async () => {
    await addStream(nc, "CRASH2", ["crash2.>"]);
    const db = join(env.dir, "crash2.db");
    const reconnected = nextReconnect(nc);
    await server.stop();
    const first = new Producer({ db, url: server.url, subject: "crash2.m", from: 0, count: 3000 });
    await first.line((l) => l === "durable 3000");
    await first.kill();

    const second = new Producer({ db, url: server.url, subject: "crash2.m", from: 3000, count: 1000 });
    await second.line((l) => l === "durable 1000");
    assert.ok(
      second.lines.some((l) => l === "started pending=3000"),
      second.lines.join(" | "),
    );
    await server.start();
    await second.line((l) => l.startsWith("drained"));
    await second.exited;
    await reconnected;

    const got = (await readStream(nc, "CRASH2")).map((m) => m.data);
    assert.equal(sequenceProblem(got, 0, 4000), undefined);
  });
});
