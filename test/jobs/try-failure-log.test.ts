import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { newTask, Router, TaskState } from "../../src/index.js";
import { memoryLogger } from "../support/memory-logger.js";
import { useNatsServer } from "../support/nats.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();

describe("failed tries are logged", () => {
  it("logs each failed try at warn with the task id, type, try and error", async () => {
    const log = memoryLogger();
    let calls = 0;
    const router = new Router().handle("flaky", () => {
      calls++;
      if (calls < 3) throw new Error(`boom ${calls}`);
      return "ok";
    });
    const q = `q${randomUUID().slice(0, 8)}`;
    await withWorker(
      nats.server.url,
      { name: q },
      router,
      async (c, outcome) => {
        const t = await c.enqueue(newTask("flaky", null));
        assert.equal((await outcome(t.id)).state, TaskState.Complete);
        const failed = log.lines.filter((l) => l.includes(" warn task try failed "));
        assert.equal(failed.length, 2, log.lines.join("\n"));
        for (const [i, line] of failed.entries()) {
          const fields = JSON.parse(line.slice(line.indexOf("{")));
          assert.deepEqual(fields, { queue: q, task: t.id, type: "flaky", try: i + 1, error: `boom ${i + 1}` });
        }
      },
      { logger: log },
    );
  });
});
