import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import { uniq } from "../gateway/gateway-support.js";
import { jetq, jetqJson, startJetq } from "../support/cli.js";
import { finalOutcomes, useNatsServer } from "../support/nats.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
type Wire = Record<string, unknown> & { id: string; state: string };

describe("jetq task …", () => {
  let a: string[];
  const clients: Client[] = [];
  const client = async (q: string) => {
    const c = await Client.connect({ servers: nats.server.url, queue: q, logger: silentLogger });
    clients.push(c);
    return c;
  };
  before(async () => {
    await nats.ready;
    a = ["-a", nats.server.url];
  });
  after(() => Promise.all(clients.map((c) => c.close())));

  it("adds a task from an argument, a file or stdin, with the REST body's options and idempotency keys", async () => {
    const q = uniq();
    const c = await client(q);
    const dir = mkdtempSync(join(tmpdir(), "jetq-cli-"));
    writeFileSync(join(dir, "p.json"), '{"from": "file"}');
    const [arg, file, stdin] = await Promise.all([
      jetqJson<{ task: Wire }>(["task", "add", q, "t", '{"to":"a@b"}', "--priority", "1", "--max-tries", "2", ...a]),
      jetqJson<{ task: Wire }>(["task", "add", q, "t", "--file", join(dir, "p.json"), "--delay", "1h", ...a]),
      jetqJson<{ task: Wire }>(["task", "add", q, "t", "-f", "-", ...a], 0, { input: "[1, 2]" }),
    ]);
    assert.equal(arg.task.priority, 1);
    assert.equal(arg.task.max_tries, 2);
    assert.deepEqual((await c.loadTask(arg.task.id)).payload, { to: "a@b" });
    assert.equal(file.task.state, TaskState.Delayed);
    assert.deepEqual((await c.loadTask(file.task.id)).payload, { from: "file" });
    assert.deepEqual((await c.loadTask(stdin.task.id)).payload, [1, 2]);

    const key = ["--dedupe-key", "k1", "--dedupe-window", "10m"];
    const first = await jetqJson<{ task: Wire; duplicate: boolean }>(["task", "add", q, "t", "1", ...key, ...a]);
    const second = await jetqJson<{ task: Wire; duplicate: boolean }>(["task", "add", q, "t", "2", ...key, ...a]);
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.task.id, first.task.id);

    const bad = await Promise.all([
      jetq(["task", "add", q, "t", "{not json", ...a]),
      jetq(["task", "add", q, "t", "1", "--priority", "12", ...a]),
      jetq(["task", "add", q, "bad type!", ...a]),
      jetq(["task", "add", "no-such-queue", "t", ...a]),
    ]);
    assert.deepEqual(
      bad.map((r) => r.code),
      [2, 2, 2, 3],
      bad.map((r) => r.stderr).join("\n"),
    );
  });

  it("adds many tasks from a file of REST task bodies, reporting the lines that failed (exit 6)", async () => {
    const q = uniq();
    const c = await client(q);
    const lines = [
      ...Array.from({ length: 1200 }, (_, n) => JSON.stringify({ payload: n })),
      '{"type": "other", "payload": "x", "priority": 0}',
      "not json",
      '{"payload": 1, "priority": 99}',
      "",
    ];
    const r = await jetqJson<{ enqueued: number; failed: { line: number; error: string }[] }>(
      ["task", "add", q, "bulk", "--bulk", "-", ...a],
      6,
      { input: lines.join("\n") },
    );
    assert.equal(r.enqueued, 1201);
    assert.deepEqual(
      r.failed.map((f) => f.line),
      [1202, 1203],
    );
    assert.equal((await c.admin.queueInfo(q)).depth, 1201);
  });

  it("lists tasks by queue, state and type a page at a time, scanning records (with a warning) when no jetq serve answers", async () => {
    const q = uniq();
    const c = await client(q);
    const tasks = await c.enqueueMany([
      ...Array.from({ length: 5 }, (_, n) => newTask("a", n)),
      newTask("b", "x"),
      newTask("a", "later", { delayMs: 3_600_000 }),
    ]);
    const all = await jetq(["task", "list", "-q", q, "--json", ...a]);
    assert.equal(all.code, 0);
    assert.match(all.stderr, /WARN .*jetq\.api\.tasks\.list: scanning every task record/);
    assert.equal(all.stderr.trim().split("\n").length, 1, "one warning line");
    const listed = JSON.parse(all.stdout) as { tasks: Wire[] };
    assert.deepEqual(listed.tasks.map((t) => t.id).sort(), tasks.map((t) => t.id).sort());

    const page = ["task", "list", "-q", q, "--type", "a", "--state", "new", "--limit", "3", ...a];
    const first = await jetqJson<{ tasks: Wire[]; next_cursor: string }>(page);
    assert.equal(first.tasks.length, 3);
    const rest = await jetqJson<{ tasks: Wire[]; next_cursor?: string }>([...page, "--cursor", first.next_cursor]);
    // Waiting tasks (no record yet) come newest first, as jetq serve lists them.
    assert.deepEqual(
      [...first.tasks, ...rest.tasks].map((t) => t.id),
      tasks
        .slice(0, 5)
        .map((t) => t.id)
        .reverse(),
    );
    assert.equal(rest.next_cursor, undefined);
    const byId = await jetqJson<{ tasks: Wire[] }>(["task", "list", "--id", tasks[5]!.id, ...a]);
    assert.deepEqual(
      byId.tasks.map((t) => t.type),
      ["b"],
    );
    const table = await jetq(["task", "list", "-q", q, "--state", "delayed", ...a]);
    assert.match(table.stdout, /^ID\s+QUEUE\s+TYPE\s+STATE\s+TRIES\s+CREATED\s+LAST ERROR$/m);
    assert.match(table.stdout, new RegExp(`^${tasks[6]!.id}\\s+${q}\\s+a\\s+delayed\\s+0`, "m"));
    assert.equal((await jetq(["task", "list", "--state", "sleeping", ...a])).code, 2);
  });

  it("gets a task with its log; retries, cancels and deletes tasks by id or filter", async () => {
    const q = uniq();
    let fail = true;
    const router = new Router().handle("job", async (_t, ctx) => {
      await ctx.appendLog("working");
      if (fail) throw new Error("broken");
      return "ok";
    });
    await withWorker(
      nats.server.url,
      { name: q, maxTries: 1 },
      router,
      async (c, outcome) => {
        const failed = await Promise.all([1, 2].map((n) => c.enqueue(newTask("job", n))));
        for (const t of failed) assert.equal((await outcome(t.id)).state, TaskState.Expired);
        const got = await jetqJson<{ task: Wire & { logs: { line: string }[] } }>(["task", "get", failed[0]!.id, ...a]);
        assert.equal(got.task.last_err, "broken");
        assert.deepEqual(
          got.task.logs.map((l) => l.line),
          ["working"],
        );
        const text = await jetq(["task", "get", failed[0]!.id, ...a]);
        assert.match(text.stdout, /^state\s+expired$/m);
        assert.match(text.stdout, /^failed tries\nTRY\s+AT\s+ERROR\n\s*1\s+.*broken$/m);

        fail = false;
        const finals = finalOutcomes(c.events({ queue: q, final: true }));
        const retried = await jetqJson<{ retried: Wire[]; failed: unknown[] }>([
          "task",
          "retry",
          "-q",
          q,
          "--state",
          "expired",
          ...a,
        ]);
        assert.deepEqual(retried.retried.map((t) => t.id).sort(), failed.map((t) => t.id).sort());
        for (const t of failed) await finals.reached(t.id);
        finals.close();
        assert.equal((await c.loadTask(failed[1]!.id)).state, TaskState.Complete);
        assert.equal((await jetq(["task", "retry", ...a])).code, 2, "nothing selected");

        await c.pauseQueue();
        const waiting = await c.enqueue(newTask("job", 3));
        assert.equal((await jetqJson<{ task: Wire }>(["task", "cancel", waiting.id, ...a])).task.state, "cancelled");
        assert.equal((await jetq(["task", "cancel", waiting.id, ...a])).code, 4, "already final");
        const partial = await jetqJson<{ deleted: string[]; failed: { id: string; error: string }[] }>(
          ["task", "delete", waiting.id, "nope", ...a],
          6,
        );
        assert.deepEqual(partial.deleted, [waiting.id]);
        assert.deepEqual(
          partial.failed.map((f) => [f.id, f.error]),
          [["nope", "task_not_found"]],
        );
        assert.equal((await jetq(["task", "get", waiting.id, ...a])).code, 3);
        await c.resumeQueue();
      },
      { retryPolicy: () => 20 },
    );
  });

  it("watches state changes live: one JSON event per line, or until a task's final state", async () => {
    const q = uniq();
    const c = await client(q);
    const watch = startJetq(["task", "watch", "-q", q, "--json", "--count", "2", ...a]);
    await watch.stderrIncludes("watching task states");
    const t = await c.enqueue(newTask("t", 1));
    await c.cancelTask(t.id);
    assert.equal(await watch.exited(), 0);
    const events = watch
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      events.map((e) => [e.task_id, e.state, e.final]),
      [
        [t.id, "new", false],
        [t.id, "cancelled", true],
      ],
    );
    assert.equal(events[0]!.type, "jetq.v1.task_state");

    const u = await c.enqueue(newTask("t", 2));
    const until = startJetq(["task", "watch", "--id", u.id, "--until-final", ...a]);
    await until.stderrIncludes("watching task states");
    await c.enqueue(newTask("t", 3)); // another task: not shown
    await c.cancelTask(u.id);
    assert.equal(await until.exited(), 0);
    assert.match(until.stdout().trim(), new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} ${q} ${u.id} t → cancelled$`));
    const done = await jetq(["task", "watch", "--id", u.id, "--until-final", ...a]);
    assert.equal(done.code, 0);
    assert.match(done.stdout, /is cancelled/);
  });

  it("processes tasks with an external command, until stopped", async () => {
    const q = uniq();
    const c = await client(q);
    const dir = mkdtempSync(join(tmpdir(), "jetq-proc-"));
    const script = join(dir, "handler.sh");
    writeFileSync(
      script,
      '#!/bin/sh\nread -r task\ncase "$task" in *fail*) echo "refused $1" >&2; exit 3;; esac\necho "{\\"seen\\": $(echo "$task" | wc -c)}"\n',
    );
    chmodSync(script, 0o755);
    await c.updateQueue(q, { maxTries: 1 });
    const finals = finalOutcomes(c.events({ queue: q, final: true }));
    const worker = startJetq(["task", "process", "job", q, "2", script, ...a, "--", "--flag"]);
    await worker.stderrIncludes("processing job tasks");
    const ok = await c.enqueue(newTask("job", "hello"));
    const bad = await c.enqueue(newTask("job", "please fail"));
    await finals.reached(ok.id);
    await finals.reached(bad.id);
    finals.close();
    const done = await c.loadTask(ok.id);
    assert.equal(done.state, TaskState.Complete);
    assert.equal(typeof (done.result?.value as { seen?: number } | undefined)?.seen, "number");
    const failed = await c.loadTask(bad.id);
    assert.equal(failed.state, TaskState.Expired);
    assert.match(failed.lastError ?? "", /exited with 3: refused --flag/);
    await worker.lines(2);
    assert.match(worker.stdout(), new RegExp(`${ok.id} complete \\d+ms`));
    assert.equal(await worker.stop("SIGTERM"), 0, "a graceful stop exits 0");
    assert.equal((await jetq(["task", "process", "job", "no-such-queue", "1", script, ...a])).code, 3);
  });
});
