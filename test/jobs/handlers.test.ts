import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { describe, it } from "node:test";
import { type Client, newTask, Router, TaskState } from "../../src/index.js";
import { externalProcess } from "../../src/jobs/handlers/external-process.js";
import { remoteHandler } from "../../src/jobs/handlers/remote-handler.js";
import { loggingMiddleware, recoveryMiddleware } from "../../src/jobs/middleware.js";
import { useNatsServer } from "../support/nats.js";
import { type Outcome, withWorker } from "../support/worker.js";

const nats = useNatsServer();
const python = new URL("../../examples/remote-handler-python/handler.py", import.meta.url).pathname;

const run = (
  router: Router | ((c: Client) => Router),
  queue: { name: string; maxRunTimeMs?: number; maxTries?: number },
  body: (c: Client, outcome: Outcome) => Promise<void>,
) => withWorker(nats.server.url, queue, router, body);

describe("external process handlers", () => {
  it("passes the task on stdin; stdout is the result; non-zero exit fails; the deadline kills the process group", async () => {
    const script =
      "const t = JSON.parse(require('fs').readFileSync(0, 'utf8')); if (t.payload.exit) process.exit(t.payload.exit); console.log(JSON.stringify({ got: t.payload.n, cwd: process.cwd(), env: process.env.JETQ_TEST }))";
    const router = new Router()
      .handle(
        "node-script",
        externalProcess(process.execPath, { args: ["-e", script], cwd: "/tmp", env: { JETQ_TEST: "yes" } }),
      )
      .handle("sleeper", externalProcess("sh", { args: ["-c", "sleep 30 & sleep 30; echo never"] }));
    await run(
      router,
      { name: `ext${randomUUID().slice(0, 6)}`, maxRunTimeMs: 800, maxTries: 1 },
      async (c, outcome) => {
        const ok = await c.enqueue(newTask("node-script", { n: 7 }));
        const bad = await c.enqueue(newTask("node-script", { exit: 3 }));
        const slow = await c.enqueue(newTask("sleeper", null));
        const r = await outcome(ok.id);
        assert.equal(r.state, TaskState.Complete);
        assert.deepEqual(r.result?.value, { got: 7, cwd: "/tmp", env: "yes" });
        const f = await outcome(bad.id);
        assert.equal(f.state, TaskState.Expired);
        assert.match(f.lastError ?? "", /exited with 3/);
        const t0 = Date.now();
        const s = await outcome(slow.id);
        assert.equal(s.state, TaskState.Expired);
        assert.ok(Date.now() - t0 < 5000, "killed at the run time, not after the sleeps");
      },
    );
  });
});

describe("remote handlers (request/reply, any language)", () => {
  it("a Python handler completes, fails and terminates tasks through reply headers", async () => {
    const py = spawn("python3", [python, nats.server.url, "math:add"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const [line] = await once(py.stdout!, "data");
      assert.match(String(line), /ready/);
      const router = (c: Client) => new Router().handle("math:add", remoteHandler(c.nc));
      await run(router, { name: `rr${randomUUID().slice(0, 6)}`, maxTries: 2 }, async (c, outcome) => {
        const ok = await c.enqueue(newTask("math:add", { a: 2, b: 40 }));
        const term = await c.enqueue(newTask("math:add", { a: "x" }));
        const fail = await c.enqueue(newTask("math:add", { fail: true }));
        assert.deepEqual((await outcome(ok.id)).result?.value, { sum: 42, handled_by: "python" });
        const t = await outcome(term.id);
        assert.equal(t.state, TaskState.Terminated);
        assert.equal(t.lastError, "payload needs numbers a and b");
        const f = await outcome(fail.id);
        assert.equal(f.state, TaskState.Expired);
        assert.equal(f.tries, 2);
        assert.equal(f.lastError, "asked to fail");
      });
    } finally {
      py.kill();
    }
  });

  it("no handler listening fails the try with a clear error", async () => {
    const router = (c: Client) => new Router().handle("nobody", remoteHandler(c.nc));
    await run(router, { name: "rrnone" }, async (c, outcome) => {
      const t = await c.enqueue(newTask("nobody", null, { maxTries: 1 }));
      const r = await outcome(t.id);
      assert.equal(r.state, TaskState.Expired);
      assert.match(r.lastError ?? "", /did not answer/);
    });
  });
});

describe("middleware bundle", () => {
  it("recovery turns a thrown non-error into a failed try; the worker lives on", async () => {
    const router = new Router()
      .use(recoveryMiddleware(), loggingMiddleware())
      .handle("throws-string", () => {
        throw "plain string";
      })
      .handle("fine", () => "ok");
    await run(router, { name: `mw${randomUUID().slice(0, 6)}`, maxTries: 1 }, async (c, outcome) => {
      const bad = await c.enqueue(newTask("throws-string", null));
      const good = await c.enqueue(newTask("fine", null));
      assert.match((await outcome(bad.id)).lastError ?? "", /non-error value: plain string/);
      assert.equal((await outcome(good.id)).result?.value, "ok");
    });
  });
});
