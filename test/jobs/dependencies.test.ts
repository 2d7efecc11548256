import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client, newTask, Router, silentLogger, TaskState, TerminateTask } from "../../src/index.js";
import { DependencyResolver } from "../../src/jobs/dependencies.js";
import { deferred, finalOutcomes, useNatsServer } from "../support/nats.js";

const nats = useNatsServer();

describe("task dependencies", () => {
  it("blocked until dependencies complete, with their results; unreachable when one fails; survives a resolver restart", async () => {
    const queue = "deps";
    const c = await Client.connect({
      servers: nats.server.url,
      queue: { name: queue, maxTries: 1 },
      logger: silentLogger,
    });
    const finals = finalOutcomes(c.events({ final: true, queue }));
    let resolver = new DependencyResolver({ storage: c.storage, log: silentLogger });
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
      resolver = new DependencyResolver({ storage: c.storage, log: silentLogger });
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
