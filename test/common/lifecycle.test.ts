import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ServiceGroup } from "../../src/lifecycle.js";
import { memoryLogger } from "../support/memory-logger.js";

function part(name: string, events: string[], opts: { failStart?: boolean; failStop?: boolean } = {}) {
  return {
    async start() {
      events.push(`start ${name}`);
      if (opts.failStart) throw new Error(`${name} cannot start`);
    },
    async stop() {
      events.push(`stop ${name}`);
      if (opts.failStop) throw new Error(`${name} cannot stop`);
    },
  };
}

describe("ServiceGroup", () => {
  it("stops its parts in the reverse order of their start, once", async () => {
    const events: string[] = [];
    const g = new ServiceGroup(memoryLogger());
    await g.add("a", part("a", events));
    g.adopt("b", () => {
      events.push("stop b");
    });
    await g.add("c", part("c", events));
    await Promise.all([g.stop(), g.stop()]);
    await g.stop();
    assert.deepEqual(events, ["start a", "start c", "stop c", "stop b", "stop a"]);
  });

  it("a part that fails to start is stopped itself and leaves the earlier ones to stop()", async () => {
    const events: string[] = [];
    const g = new ServiceGroup(memoryLogger());
    await g.add("a", part("a", events));
    await assert.rejects(g.add("b", part("b", events, { failStart: true })), /b cannot start/);
    await g.stop();
    assert.deepEqual(events, ["start a", "start b", "stop b", "stop a"]);
  });

  it("a part that fails to stop is logged; the others still stop", async () => {
    const events: string[] = [];
    const log = memoryLogger();
    const g = new ServiceGroup(log);
    await g.add("a", part("a", events));
    await g.add("b", part("b", events, { failStop: true }));
    await g.stop();
    assert.deepEqual(events, ["start a", "start b", "stop b", "stop a"]);
    assert.ok(log.lines.some((l) => l.includes("stopping b failed") && l.includes("b cannot stop")));
  });
});
