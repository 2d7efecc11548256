/**
 * Type-level tests: `npm run check` compiles this file, so a `@ts-expect-error` that stops failing
 * (or a typed call that stops compiling) fails the check. The runtime test runs the handlers too.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Handler, newTask, Router, type Task, TerminateTask } from "../../src/index.js";
import { runHandler } from "../../src/testing/index.js";

interface Email {
  to: string;
  subject?: string;
}
interface Sent {
  messageId: string;
}

const send: Handler<Email, Sent> = async (task) => ({ messageId: `<${task.payload.to}>` });

const router = new Router()
  .handle<Email, Sent>("email:send", async (task, ctx) => {
    const to: string = task.payload.to;
    // @ts-expect-error the payload has no such field
    void task.payload.cc;
    await ctx.progress({ sending: to });
    await ctx.appendLog(`to ${to}`);
    ctx.log.info("sending", { to });
    return { messageId: `<${to}>` };
  })
  // The handler's annotation types the payload too.
  .handle("email:count", async (task: Task<Email>) => task.payload.to.length)
  .handle("email:typed", send)
  .handle("untyped", async (task) => task.payload)
  .handle("refuse", () => {
    throw new TerminateTask("no");
  });

// @ts-expect-error the result must be a Sent
new Router().handle<Email, Sent>("wrong", async () => ({ id: 1 }));
// @ts-expect-error a handler of one payload type is not one of another
new Router().handle<{ n: number }>("mismatch", async (task: Task<Email>) => task.payload.to);

// newTask infers the payload type
const t = newTask("email:send", { to: "a@example.net" });
const to: string = t.payload.to;
// @ts-expect-error `to` is a string
const wrong: number = t.payload.to;
void [to, wrong];

describe("typed handlers and runHandler", () => {
  it("runs a typed route with its middleware and records progress, log lines and logs", async () => {
    const seen: string[] = [];
    router.use((next) => async (task, ctx) => {
      seen.push(task.type);
      return next(task, ctx);
    });
    const run = await runHandler<Email, Sent>(router, { type: "email:send", payload: { to: "a@example.net" } });
    assert.deepEqual(run.result, { messageId: "<a@example.net>" });
    assert.deepEqual(run.progress, [{ sending: "a@example.net" }]);
    assert.deepEqual(run.logs, ["to a@example.net"]);
    assert.equal(run.logged[0]?.fields.to, "a@example.net");
    assert.equal(run.task.state, "active");
    assert.deepEqual(seen, ["email:send"], "the router's middleware ran");
    assert.equal((await runHandler(send, newTask("email:typed", { to: "b" }))).result.messageId, "<b>");
    await assert.rejects(runHandler(router, { type: "refuse", payload: null }), TerminateTask);
    await assert.rejects(runHandler(router, { type: "unknown", payload: null }), { code: "no_handler" });
  });

  it("fires ctx.signal when the run time ends or the caller aborts", async () => {
    const waits: Handler<null, string> = (_task, ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
    await assert.rejects(runHandler(waits, { type: "w", payload: null }, { maxRunTimeMs: 20 }), /run time of 20 ms/);
    const ac = new AbortController();
    const running = runHandler(waits, { type: "w", payload: null }, { signal: ac.signal });
    ac.abort(new Error("cancelled by the test"));
    await assert.rejects(running, /cancelled by the test/);
  });
});
