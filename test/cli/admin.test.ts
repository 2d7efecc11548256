import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { Command } from "commander";
import { registerAdmin } from "../../src/cli/admin.js";
import { Client, newTask, Router, silentLogger, TaskState, TerminateTask } from "../../src/index.js";
import { useNatsServer } from "../support/nats.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
const uniq = () => `q${randomUUID().slice(0, 8)}`;

/** Runs `jetq <args>` in this process against the test server; resolves with the parsed JSON answer. */
async function jetq(...args: string[]): Promise<unknown> {
  const lines: string[] = [];
  const program = new Command("jetq").exitOverride();
  registerAdmin(program, (l) => lines.push(l));
  await program.parseAsync(["node", "jetq", ...args, "-a", nats.server.url]);
  return JSON.parse(lines.join("\n"));
}

describe("jetq queue | task | dead-letters (admin CLI)", () => {
  it("pauses, limits and resumes a queue, and shows it", async () => {
    const q = uniq();
    const c = await Client.connect({ servers: nats.server.url, queue: q, logger: silentLogger });
    try {
      assert.ok(((await jetq("queue", "list")) as string[]).includes(q));
      assert.ok(((await jetq("queue", "pause", q)) as { paused?: unknown }).paused);
      assert.ok((await c.queueControls()).paused);
      assert.deepEqual(((await jetq("queue", "rate-limit", q, "5", "2000")) as { rateLimit: unknown }).rateLimit, {
        limit: 5,
        intervalMs: 2000,
      });
      const info = (await jetq("queue", "info", q)) as { controls: { paused?: unknown }; pendingByPriority: number[] };
      assert.ok(info.controls.paused);
      assert.equal(info.pendingByPriority.length, 10);
      assert.equal(((await jetq("queue", "rate-limit", q)) as { rateLimit?: unknown }).rateLimit, undefined);
      assert.equal(((await jetq("queue", "resume", q)) as { paused?: unknown }).paused, undefined);
      await assert.rejects(jetq("queue", "pause", "missing-queue"), { code: "queue_not_found" });
      await assert.rejects(jetq("queue", "rate-limit", q, "0"), { code: "invalid_argument" });
    } finally {
      await c.close();
    }
  });

  it("cancels a task and shows it; lists, redrives and purges dead letters", async () => {
    const q = uniq();
    const router = new Router().handle("bad", () => {
      throw new TerminateTask("no");
    });
    await withWorker(nats.server.url, { name: q }, router, async (c, outcome) => {
      await c.pauseQueue();
      const t = await c.enqueue(newTask("later", null));
      assert.equal(((await jetq("task", "cancel", t.id)) as { state: string }).state, TaskState.Cancelled);
      const shown = (await jetq("task", "get", t.id)) as { state: string; logs: unknown[] };
      assert.equal(shown.state, TaskState.Cancelled);
      assert.deepEqual(shown.logs, []);
      await c.resumeQueue();

      const bad = await c.enqueue(newTask("bad", null));
      await outcome(bad.id);
      const page = (await jetq("dead-letters", "list", q)) as { deadLetters: { task: { id: string } }[] };
      assert.deepEqual(
        page.deadLetters.map((d) => d.task.id),
        [bad.id],
      );
      assert.deepEqual(await jetq("dead-letters", "purge", q, bad.id), { purged: 1 });
      assert.deepEqual(await jetq("dead-letters", "redrive", q), { redriven: 0, skipped: 0 });
    });
  });
});
