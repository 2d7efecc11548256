import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Client, newTask, Router, silentLogger, TaskState, TerminateTask } from "../../src/index.js";
import { DependencyResolver } from "../../src/jobs/dependencies.js";
import { deferred, finalOutcomes, useNatsServer } from "../support/nats.js";

const nats = useNatsServer();

/** A resolver on a client's storage, releasing through its enqueuer. */
const resolverOf = (c: Client) =>
  new DependencyResolver({
    storage: c.storage,
    dependencies: c.engine.dependencies,
    put: (t, id) => c.engine.enqueuer.put(t, id),
    log: silentLogger,
  });

describe("task dependencies", () => {
  it("blocked until dependencies complete, with their results; unreachable when one fails; survives a resolver restart", async () => {
    const queue = "deps";
    const c = await Client.connect({
      servers: nats.server.url,
      queue: { name: queue, maxTries: 1 },
      logger: silentLogger,
    });
    const finals = finalOutcomes(c.events({ final: true, queue }));
    let resolver = resolverOf(c);
    await resolver.start();
    const seen: Record<string, unknown> = {};
    const gate = deferred();
    const router = new Router()
      .handle("step", async (t) => {
        await gate.promise;
        return `result of ${(t.payload as { n: number }).n}`;
      })
      .handle("fail", () => {
        throw new TerminateTask("nope");
      })
      .handle("join", (t) => {
        seen[t.id] = t.dependencyResults;
        return "joined";
      });
    const ac = new AbortController();
    const done = c.run(router, { signal: ac.signal });
    try {
      const a = await c.enqueue(newTask("step", { n: 1 }));
      const b = await c.enqueue(newTask("step", { n: 2 }));
      const join = await c.enqueue(newTask("join", null, { dependsOn: [a.id, b.id], loadDependencies: true }));
      assert.equal((await c.loadTask(join.id)).state, TaskState.Blocked);
      const failing = await c.enqueue(newTask("fail", null));
      await finals.reached(failing.id);
      const doomed = await c.enqueue(newTask("join", null, { dependsOn: [a.id, failing.id] }));

      // Restart the resolver while dependencies are running: nothing is lost.
      await resolver.stop();
      resolver = resolverOf(c);
      await resolver.start();
      gate.resolve();

      await finals.reached(join.id);
      const j = await c.loadTask(join.id);
      assert.equal(j.state, TaskState.Complete);
      assert.deepEqual(
        Object.fromEntries(
          Object.entries(seen[join.id] as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]),
        ),
        { [a.id]: "result of 1", [b.id]: "result of 2" },
      );
      const d = await c.loadTask(doomed.id);
      assert.equal(d.state, TaskState.Unreachable);
      assert.match(d.lastError ?? "", /terminated/);

      // Dependencies already complete: runs at once.
      const late = await c.enqueue(newTask("join", null, { dependsOn: [a.id] }));
      await finals.reached(late.id);
      assert.equal((await c.loadTask(late.id)).state, TaskState.Complete);
      await assert.rejects(c.enqueue(newTask("join", null, { dependsOn: ["01UNKNOWN"] })), {
        code: "unknown_dependency",
      });
    } finally {
      ac.abort();
      await done;
      finals.close();
      await resolver.stop();
      await c.close();
    }
  });
});

describe("dependency resolver", () => {
  it("costs no JetStream write per finished task; ids with ':' work; a missed event is caught at start", async () => {
    const queue = "deps2";
    const c = await Client.connect({ servers: nats.server.url, queue, logger: silentLogger });
    const finals = finalOutcomes(c.events({ final: true, queue }));
    const ac = new AbortController();
    const gate = deferred();
    const done = c.run(
      new Router().handle("dep", async () => {
        await gate.promise;
        return 1;
      }),
      { signal: ac.signal },
    );
    let resolver: DependencyResolver | undefined;
    try {
      const a = await c.enqueue(newTask("dep", null, { id: "cron:nightly:1798794000000" }));
      const b = await c.enqueue(newTask("dep", null, { dependsOn: [a.id] }));
      assert.equal((await c.loadTask(b.id)).state, TaskState.Blocked);
      // No resolver runs while `a` finishes: its final event reaches nobody.
      gate.resolve();
      await finals.reached(a.id);
      resolver = resolverOf(c);
      await resolver.start();
      await finals.reached(b.id);
      assert.equal((await c.loadTask(b.id)).state, TaskState.Complete);
      // Final events are not stored anywhere.
      const jsm = await jetstreamManager(c.nc);
      const capturing: string[] = [];
      for await (const name of jsm.streams.names(`jetq.ev.task.${queue}.final.complete`)) capturing.push(name);
      assert.deepEqual(capturing, []);
      // The index is empty again.
      const kv = await new Kvm(c.nc).open("JETQ_DEPENDENCIES");
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      assert.deepEqual(keys, []);
    } finally {
      ac.abort();
      await done;
      finals.close();
      await resolver?.stop();
      await c.close();
    }
  });

  it("takes over what an earlier version left: its final-events stream goes, its index keys are moved and released", async () => {
    const queue = "deps3";
    const c = await Client.connect({ servers: nats.server.url, queue, logger: silentLogger });
    const finals = finalOutcomes(c.events({ final: true, queue }));
    const jsm = await jetstreamManager(c.nc);
    await jsm.streams.add({ name: "JETQ_FINAL_EVENTS", subjects: ["jetq.ev.task.*.final.*"] });
    const ac = new AbortController();
    const gate = deferred();
    const done = c.run(
      new Router().handle("dep", async () => {
        await gate.promise;
        return 1;
      }),
      { signal: ac.signal },
    );
    let resolver: DependencyResolver | undefined;
    try {
      const a = await c.enqueue(newTask("dep", null));
      const b = await c.enqueue(newTask("dep", null, { dependsOn: [a.id] }));
      // Rewrite the index entry in the first layout: `<dependency>.<dependant>` = queue.
      const kv = await new Kvm(c.nc).open("JETQ_DEPENDENCIES");
      await kv.delete(a.id);
      await kv.put(`${a.id}.${b.id}`, queue);
      gate.resolve();
      await finals.reached(a.id);
      resolver = resolverOf(c);
      await resolver.start();
      await finals.reached(b.id);
      assert.equal((await c.loadTask(b.id)).state, TaskState.Complete);
      await assert.rejects(jsm.streams.info("JETQ_FINAL_EVENTS"), /not found/);
    } finally {
      ac.abort();
      await done;
      finals.close();
      await resolver?.stop();
      await c.close();
    }
  });

  it("releases a dependant indexed just as its dependency finishes (no event after the index entry)", async () => {
    const queue = "deps4";
    const c = await Client.connect({ servers: nats.server.url, queue, logger: silentLogger });
    const finals = finalOutcomes(c.events({ final: true, queue }));
    const resolver = resolverOf(c);
    await resolver.start();
    const ac = new AbortController();
    const done = c.run(
      new Router().handle("dep", () => 1),
      { signal: ac.signal },
    );
    try {
      const a = await c.enqueue(newTask("dep", null));
      await finals.reached(a.id);
      // Index a dependant of the finished task by hand, as a producer that raced the outcome would.
      const blocked = newTask("dep", null, { dependsOn: [a.id] });
      blocked.queue = queue;
      blocked.state = TaskState.Blocked;
      await c.storage.saveRecord(blocked);
      const kv = await new Kvm(c.nc).open("JETQ_DEPENDENCIES");
      await kv.put(a.id, JSON.stringify({ dependants: [{ id: blocked.id, queue }] }));
      await finals.reached(blocked.id);
      assert.equal((await c.loadTask(blocked.id)).state, TaskState.Complete);
    } finally {
      ac.abort();
      await done;
      finals.close();
      await resolver.stop();
      await c.close();
    }
  });
});
