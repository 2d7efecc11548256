import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Client, type ClientOptions, newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import { canonicalJson, signTask, verifyTask } from "../../src/jobs/signing.js";
import { finalOutcomes, useNatsServer } from "../support/nats.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
const ran = new Router().handle("s", () => "ran");

function rawKeys() {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub = publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("hex");
  const seed = privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32).toString("hex");
  return { pub, seed, publicKey, privateKey };
}

async function client(queue: string, extra: Partial<ClientOptions>) {
  return Client.connect({ servers: nats.server.url, queue, logger: silentLogger, ...extra });
}

describe("task signing", () => {
  it("canonical JSON sorts keys at every level", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }),
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it("signs on enqueue; a verifying worker runs signed tasks and terminates unsigned and tampered ones", async () => {
    const k = rawKeys();
    const dir = await mkdtemp(join(tmpdir(), "jetq-keys-"));
    await writeFile(join(dir, "seed"), `${k.seed}\n`);
    await writeFile(join(dir, "pub"), k.pub);
    const queue = `sig${randomUUID().slice(0, 6)}`;
    const signer = await client(queue, { signingSeedFile: join(dir, "seed") });
    const plain = await client(queue, {});
    const options = { verificationKeyFile: join(dir, "pub") };
    try {
      await withWorker(
        nats.server.url,
        { name: queue },
        ran,
        async (worker, outcome) => {
          const signed = await signer.enqueue(newTask("s", { amount: 10 }));
          assert.match(signed.signature ?? "", /^[0-9a-f]{128}$/);
          assert.ok(verifyTask(signed, k.publicKey));
          const unsigned = await plain.enqueue(newTask("s", { amount: 10 }));
          const tampered = newTask("s", { amount: 10 });
          tampered.queue = queue;
          tampered.signature = signTask(tampered, k.privateKey);
          tampered.payload = { amount: 1_000_000 };
          await plain.enqueue(tampered);
          assert.equal((await outcome(signed.id)).state, TaskState.Complete);
          const u = await outcome(unsigned.id);
          assert.equal(u.state, TaskState.Terminated);
          assert.equal(u.lastError, "task is not signed");
          const t = await outcome(tampered.id);
          assert.equal(t.state, TaskState.Terminated);
          assert.equal(t.lastError, "invalid task signature");
          assert.equal((await worker.loadTask(signed.id)).state, TaskState.Complete);
        },
        options,
      );
      assert.equal((await readFile(join(dir, "seed"), "utf8")).trim(), k.seed, "the seed file itself is left alone");
    } finally {
      await Promise.all([signer.close(), plain.close()]);
    }
  });

  it("optional mode runs unsigned tasks but still terminates tampered ones", async () => {
    const k = rawKeys();
    const queue = `sigopt${randomUUID().slice(0, 6)}`;
    const plain = await client(queue, {});
    try {
      await withWorker(
        nats.server.url,
        { name: queue },
        ran,
        async (_worker, outcome) => {
          const unsigned = await plain.enqueue(newTask("s", 1));
          const bad = newTask("s", 1);
          bad.signature = "00".repeat(64);
          await plain.enqueue(bad);
          assert.equal((await outcome(unsigned.id)).state, TaskState.Complete);
          assert.equal((await outcome(bad.id)).state, TaskState.Terminated);
        },
        { verificationKey: k.pub, signaturesOptional: true },
      );
    } finally {
      await plain.close();
    }
  });
});

describe("Prometheus metrics", () => {
  it("serves task states, handler durations and queue depth on /metrics", async () => {
    const queue = `met${randomUUID().slice(0, 6)}`;
    const c = await client(queue, { metricsPort: 0 });
    const finals = finalOutcomes(c.events({ final: true, queue }));
    const ac = new AbortController();
    const done = c.run(
      new Router().handle("m", () => 1),
      { signal: ac.signal },
    );
    try {
      const t = await c.enqueue(newTask("m", null));
      await finals.reached(t.id);
      const res = await fetch(c.metricsUrl!);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, new RegExp(`jetq_task_state_changes_total\\{queue="${queue}",type="m",state="complete"\\} 1`));
      assert.match(
        text,
        new RegExp(`jetq_handler_duration_seconds_count\\{queue="${queue}",type="m",outcome="ok"\\} 1`),
      );
      assert.match(text, new RegExp(`jetq_queue_depth\\{queue="${queue}"\\} 0`));
      assert.match(text, new RegExp(`jetq_queue_in_flight\\{queue="${queue}"\\} 0`));
      assert.match(text, new RegExp(`jetq_queue_consumer_lag\\{queue="${queue}"\\} 0`));
      assert.equal((await fetch(c.metricsUrl!.replace("/metrics", "/nope"))).status, 404);
    } finally {
      ac.abort();
      await done;
      finals.close();
      await c.close();
    }
  });
});
