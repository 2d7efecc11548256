import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { DirectReader } from "../../src/nats/direct-reader.js";
import { serverFeatures } from "../../src/nats/server-features.js";
import { useNatsServer } from "../support/nats.js";

const nats = useNatsServer();

describe("DirectReader", () => {
  it("reads last-by-subject, by sequence and next-by-subject; the last of many subjects in one call", async () => {
    const nc = await connect({ servers: nats.server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "DR", subjects: ["dr.>"], allow_direct: true });
    const js = jetstream(nc);
    await js.publish("dr.a", "a1");
    await js.publish("dr.b", "b1");
    const a2 = await js.publish("dr.a", "a2");
    for (const batched of [false, serverFeatures(nc).batchDirectGet]) {
      const r = new DirectReader(nc, batched);
      try {
        const last = await r.get("DR", { last_by_subj: "dr.a" });
        assert.equal(new TextDecoder().decode(last!.data), "a2");
        assert.equal(last!.seq, a2.seq);
        assert.equal(last!.subject, "dr.a");
        assert.equal(await r.get("DR", { last_by_subj: "dr.none" }), undefined);
        assert.equal(new TextDecoder().decode((await r.get("DR", { seq: 1 }))!.data), "a1");
        assert.equal((await r.get("DR", { seq: 2, next_by_subj: "dr.a" }))!.seq, a2.seq);
        const many = await r.lastOfMany("DR", ["dr.a", "dr.none", "dr.b"]);
        assert.deepEqual([...many.entries()].map(([s, m]) => [s, new TextDecoder().decode(m.data)]).sort(), [
          ["dr.a", "a2"],
          ["dr.b", "b1"],
        ]);
        assert.equal((await r.lastOfMany("DR", ["dr.x", "dr.y"])).size, 0);
        await assert.rejects(r.get("NO_SUCH_STREAM", { seq: 1 }), { name: "StorageError" });
      } finally {
        r.close();
      }
    }
    await nc.close();
  });
});
