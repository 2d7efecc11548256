import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { silentLogger } from "../../src/logger.js";
import { connectNats } from "../../src/nats/connect.js";
import type { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { OUTBOX_MSG_ID_HEADER, OutboxPublisher, ReplyMatcher, respond } from "../../src/outbox/index.js";
import { addStream, natsWithKeptStore } from "./support.js";

const text = (d: Uint8Array) => Buffer.from(d).toString();

describe("ReplyMatcher (publish/reply)", () => {
  let env: Awaited<ReturnType<typeof natsWithKeptStore>>;
  let server: NatsServerLauncher;
  let producerNc: NatsConnection;
  let responderNc: NatsConnection;

  before(async () => {
    env = await natsWithKeptStore();
    server = env.server;
    producerNc = await connectNats({ servers: server.url, name: "producer" });
    responderNc = await connectNats({ servers: server.url, name: "responder" });
  });
  after(async () => {
    await producerNc.close();
    await responderNc.close();
    await env.cleanup();
  });

  it("matches stream replies to requests, across a NATS restart, with requests buffered in the outbox", async () => {
    await addStream(producerNc, "REQS", ["reqs.>"]);
    await addStream(producerNc, "REPLIES", ["replies.>"]);
    // A responder: a durable consumer on the request stream that answers each request in upper case.
    const jsm = await jetstreamManager(responderNc);
    await jsm.consumers.add("REQS", { durable_name: "upper", ack_policy: AckPolicy.Explicit });
    const js = jetstream(responderNc);
    const consumer = await js.consumers.get("REQS", "upper");
    const requests = await consumer.consume({ max_messages: 10 });
    void (async () => {
      for await (const m of requests) {
        try {
          await respond(responderNc, m, Buffer.from(text(m.data).toUpperCase()), { js });
          m.ack();
        } catch {
          m.nak(100);
        }
      }
    })();

    const pub = new OutboxPublisher({ outbox: join(env.dir, "reply.db"), connection: producerNc, log: silentLogger });
    pub.on("error", () => {});
    pub.start();
    const rm = new ReplyMatcher({
      connection: producerNc,
      publisher: pub,
      replyPrefix: "replies.device42",
      replyStream: "REPLIES",
      timeoutMs: 30_000,
      log: silentLogger,
    });
    await rm.start();
    try {
      const r1 = await rm.request("reqs.upper", Buffer.from("hello"));
      assert.equal(text(r1.data), "HELLO");
      assert.match(r1.subject, /^replies\.device42\./);

      const down = new Promise<void>((resolve) => {
        pub.on("connection", (s) => {
          if (s === "disconnected") resolve();
        });
      });
      await server.stop();
      await down;
      // Sent while NATS is down: durable in the outbox, matched once NATS is back.
      const pending = rm.request("reqs.upper", Buffer.from("while down"), { requestId: "r-down" });
      const other = rm.request("reqs.upper", Buffer.from("another"));
      await server.start();
      const [r2, r3] = await Promise.all([pending, other]);
      assert.equal(text(r2.data), "WHILE DOWN");
      assert.equal(r2.requestId, "r-down");
      assert.equal(text(r3.data), "ANOTHER");
      assert.equal(rm.waiting, 0);
    } finally {
      requests.stop();
      await rm.stop();
      await pub.stop();
    }
  });

  it("sends core requests (a request/reply service such as the schedule API) through the outbox", async () => {
    const seen: string[] = [];
    const service = responderNc.subscribe("svc.echo", {
      callback: (_err, m) => {
        seen.push(m.headers?.get(OUTBOX_MSG_ID_HEADER) ?? "");
        m.respond(Buffer.from(`echo:${text(m.data)}`));
      },
    });
    await responderNc.flush();
    const pub = new OutboxPublisher({ outbox: join(env.dir, "svc.db"), connection: producerNc, log: silentLogger });
    pub.on("error", () => {});
    pub.start();
    const rm = new ReplyMatcher({ connection: producerNc, publisher: pub, log: silentLogger });
    await rm.start();
    try {
      const r = await rm.request("svc.echo", Buffer.from("a"), { mode: "request", requestId: "req-a" });
      assert.equal(text(r.data), "echo:a");
      assert.deepEqual(seen, ["req-a"]);

      service.unsubscribe(); // the service is away: the request waits in the outbox and is retried
      await responderNc.flush();
      const later = rm.request("svc.echo", Buffer.from("b"), { mode: "request", requestId: "req-b" });
      await new Promise<void>((resolve) => pub.once("error", () => resolve()));
      assert.equal(pub.stats().pending, 1);
      responderNc.subscribe("svc.echo", {
        callback: (_err, m) => {
          m.respond(Buffer.from(`echo2:${text(m.data)}`));
        },
      });
      await responderNc.flush();
      assert.equal(text((await later).data), "echo2:b");
    } finally {
      await rm.stop();
      await pub.stop();
    }
  });
});
