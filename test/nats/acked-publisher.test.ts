import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { AckedPublisher } from "../../src/nats/acked-publisher.js";
import { connectNats } from "../../src/nats/connect.js";
import { useNatsServer } from "../support/nats.js";

const nats = useNatsServer();

describe("AckedPublisher", () => {
  it("acknowledges thousands in flight, reports duplicates, missing streams and refusals", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "AP", subjects: ["ap.>"] });
    await jsm.streams.add({ name: "FULL", subjects: ["full.>"], max_msgs: 1, discard: DiscardPolicy.New });
    const p = new AckedPublisher(nc, 2000);
    try {
      const acks = await Promise.all(
        Array.from({ length: 5000 }, (_, i) => p.publish(`ap.${i}`, new Uint8Array([i % 256]))),
      );
      assert.deepEqual(
        acks.map((a) => a.seq),
        Array.from({ length: 5000 }, (_, i) => i + 1),
      );
      assert.equal(acks[0]!.stream, "AP");
      const h = headers();
      h.set("Nats-Msg-Id", "once");
      assert.equal((await p.publish("ap.d", new Uint8Array(1), h)).duplicate, false);
      assert.equal((await p.publish("ap.d", new Uint8Array(1), h)).duplicate, true);
      await assert.rejects(p.publish("nowhere.x", new Uint8Array(1)), { code: "stream_not_found" });
      await p.publish("full.1", new Uint8Array(1));
      await assert.rejects(p.publish("full.2", new Uint8Array(1)), { code: "publish_rejected" });
    } finally {
      p.close();
      await nc.close();
    }
  });

  it("deletes messages pipelined; reports a missing message, a failed expectation and a missing stream", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "APD", subjects: ["apd.>"] });
    const p = new AckedPublisher(nc, 2000);
    try {
      const acks = await Promise.all(Array.from({ length: 1000 }, (_, i) => p.publish(`apd.${i}`, new Uint8Array(1))));
      const deleted = await Promise.all(acks.map((a) => p.deleteMessage("APD", a.seq)));
      assert.ok(deleted.every((d) => d));
      assert.equal((await jsm.streams.info("APD")).state.messages, 0);
      assert.equal(await p.deleteMessage("APD", acks[0]!.seq), false, "already deleted");
      assert.equal(await p.deleteMessage("APD", 999_999), false, "never stored");
      await assert.rejects(p.deleteMessage("NO_SUCH_STREAM", 1), { code: "stream_not_found" });
      const h = headers();
      h.set("Nats-Expected-Last-Subject-Sequence", "1");
      await p.publish("apd.x", new Uint8Array(1));
      await assert.rejects(p.publish("apd.x", new Uint8Array(1), h), { code: "wrong_last_sequence" });
    } finally {
      p.close();
      await nc.close();
    }
  });

  it("fails what is still waiting when closed", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const p = new AckedPublisher(nc);
    const pending = p.publish("ap.late", new Uint8Array(1));
    p.close();
    await assert.rejects(pending, { code: "publish_failed" });
    await nc.close();
  });
});
