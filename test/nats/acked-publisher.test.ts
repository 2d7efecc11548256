import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { AckedPublisher } from "../../src/nats/acked-publisher.js";
import { connectNats } from "../../src/nats/connect.js";
import { featuresOf } from "../../src/nats/server-features.js";
import { useNatsServer } from "../support/nats.js";

const nats = useNatsServer();

describe("AckedPublisher", () => {
  it("acknowledges thousands in flight, reports duplicates, missing streams and refusals", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "AP", subjects: ["ap.>"] });
    await jsm.streams.add({ name: "FULL", subjects: ["full.>"], max_msgs: 1, discard: DiscardPolicy.New });
    const p = new AckedPublisher(nc, { timeoutMs: 2000 });
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
    const p = new AckedPublisher(nc, { timeoutMs: 2000 });
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

  it("keeps the order of requests made in separate turns while others are in flight, batches included", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    const batched = featuresOf(nats.server.version).atomicBatch;
    await jsm.streams.add({ name: "APO", subjects: ["apo.>"], ...(batched ? { allow_atomic: true } : {}) });
    const p = new AckedPublisher(nc, { timeoutMs: 2000 });
    try {
      // Publishes made from separate macrotasks, as HTTP requests are: all but the first find a
      // flush unanswered and are held until its answers are in.
      const made: Promise<{ seq: number }>[] = [];
      for (let i = 0; i < 200; i++) {
        made.push(p.publish(`apo.${i}`, new Uint8Array([i])));
        if (i % 20 === 0) await new Promise((r) => setImmediate(r));
      }
      const acks = await Promise.all(made);
      assert.deepEqual(
        acks.map((a) => a.seq),
        Array.from({ length: 200 }, (_, i) => i + 1),
        "stored in the order made",
      );
      if (batched) {
        const inFlight = p.publish("apo.before", new Uint8Array(1));
        const batch = p.publishBatch(
          "b1",
          Array.from({ length: 3 }, (_, i) => ({ subject: `apo.b.${i}`, data: new Uint8Array(1), headers: headers() })),
        );
        const after = p.publish("apo.after", new Uint8Array(1));
        assert.deepEqual([(await inFlight).seq, await batch, (await after).seq], [201, 204, 205]);
        const subjects = [];
        for (let seq = 201; seq <= 205; seq++) subjects.push((await jsm.streams.getMessage("APO", { seq }))?.subject);
        assert.deepEqual(subjects, ["apo.before", "apo.b.0", "apo.b.1", "apo.b.2", "apo.after"]);
      }
    } finally {
      p.close();
      await nc.close();
    }
  });

  it("sends what it held behind a flush that is never answered within a few ms, not at its timeout", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "APH", subjects: ["aph.>"] });
    const silent = nc.subscribe("silent.x"); // a responder that never answers: no 503 either
    const p = new AckedPublisher(nc, { timeoutMs: 3000 });
    try {
      const unanswered = p.publish("silent.x", new Uint8Array(1)); // goes at once, answered by nobody
      const t0 = performance.now();
      const held = await Promise.all(Array.from({ length: 5 }, (_, i) => p.publish(`aph.${i}`, new Uint8Array(1))));
      assert.deepEqual(
        held.map((a) => a.seq),
        [1, 2, 3, 4, 5],
      );
      assert.ok(performance.now() - t0 < 1500, "sent after the hold, long before the unanswered one times out");
      await assert.rejects(unanswered, { code: "publish_timeout" });
    } finally {
      silent.unsubscribe();
      p.close();
      await nc.close();
    }
  });

  it("holds writes behind an unanswered flush until its answers (default) or only to the turn's end (turn)", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "APT", subjects: ["apt.>"] });
    const silent = nc.subscribe("silent.t"); // never answers: the first flush stays unanswered
    const answers = new AckedPublisher(nc, { timeoutMs: 3000 });
    const turn = new AckedPublisher(nc, { timeoutMs: 3000, coalesce: "turn" });
    const nextTurn = () => new Promise<void>((r) => setImmediate(r));
    try {
      for (const [p, sentByTurnEnd] of [
        [answers, 0],
        [turn, 3],
      ] as const) {
        p.publish("silent.t", new Uint8Array(1)).catch(() => undefined); // fails at close
        const before = nc.stats().outMsgs;
        const held = Array.from({ length: 3 }, (_, i) => p.publish(`apt.${sentByTurnEnd}.${i}`, new Uint8Array(1)));
        assert.equal(nc.stats().outMsgs, before, "held while the first is unanswered");
        await nextTurn();
        assert.equal(nc.stats().outMsgs - before, sentByTurnEnd, "sent by the end of the turn only with turn");
        assert.equal((await Promise.all(held)).length, 3, "all stored in the end");
      }
    } finally {
      silent.unsubscribe();
      answers.close();
      turn.close();
      await nc.close();
    }
  });

  it("sends nothing it still held when closed, and fails it", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "APC", subjects: ["apc.>"] });
    const p = new AckedPublisher(nc);
    const first = p.publish("apc.0", new Uint8Array(1)); // goes at once
    const held = Array.from({ length: 5 }, (_, i) => p.publish(`apc.${i + 1}`, new Uint8Array(1)));
    p.close();
    await assert.rejects(first, { code: "publish_failed" });
    for (const h of held) await assert.rejects(h, { code: "publish_failed" });
    await assert.rejects(
      p.publish("apc.late", new Uint8Array(1)),
      { code: "publish_failed" },
      "closed: refused at once",
    );
    await nc.flush();
    assert.ok((await jsm.streams.info("APC")).state.messages <= 1, "only the request sent before closing was stored");
    await nc.close();
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
