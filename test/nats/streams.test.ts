import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../src/nats/connect.js";
import { isNotFound } from "../../src/nats/streams.js";
import { useNatsServer } from "../support/nats.js";

const nats = useNatsServer();
let nc: NatsConnection;

describe("isNotFound on the server under test", () => {
  before(async () => {
    await nats.ready;
    nc = await connectNats({ servers: nats.server.url });
  });
  after(async () => {
    await nc.close();
  });

  it(`recognises a missing stream, a missing consumer and an already deleted message (${process.env.JETQ_NATS_SERVER ?? "default server"})`, async () => {
    const jsm = await jetstreamManager(nc);
    const caught = (p: Promise<unknown>) =>
      p.then(
        () => assert.fail("expected a JetStream error"),
        (e: unknown) => e,
      );

    assert.ok(isNotFound(await caught(jsm.streams.info("NO_SUCH_STREAM"))), "missing stream");
    await jsm.streams.add({ name: "NF_TEST", subjects: ["nf.test"] });
    assert.ok(isNotFound(await caught(jsm.consumers.info("NF_TEST", "nobody"))), "missing consumer");

    const ack = await jetstream(nc).publish("nf.test", "x");
    assert.equal(await jsm.streams.deleteMessage("NF_TEST", ack.seq, false), true);
    // both 2.9 and 2.14 answer "no message found" (code 10057, status 500) to the second delete
    const again = await caught(jsm.streams.deleteMessage("NF_TEST", ack.seq, false));
    assert.ok(isNotFound(again), `already deleted message: ${(again as Error).message}`);

    assert.equal(isNotFound(new Error("not a JetStream error")), false);
    await jsm.streams.delete("NF_TEST");
  });
});
