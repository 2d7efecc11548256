/**
 * emq compatibility, proven against the real emq: the same tests run against jetq's gateway
 * (`jetq serve`) and against emq itself (built by scripts/bootstrap.mjs; skipped with the reason when it
 * could not be). They use only what emq's README promises (../shared/seeds/emq-readme.md). Where jetq
 * differs on purpose the test says so and docs/compatibility.md lists the difference.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { useNatsServer, waitUntil } from "../support/nats.js";
import { jetqServe, peerSkip, realEmq, type Target } from "./targets.js";

const nats = useNatsServer();

type Task = { id: string; content: unknown };
interface Answer {
  status: number;
  text: string;
  json: unknown;
}

async function call(
  t: Target,
  method: string,
  path: string,
  body?: unknown,
  type = "application/json",
): Promise<Answer> {
  const init: RequestInit = { method, headers: body === undefined ? {} : { "content-type": type } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const r = await fetch(t.url + path, init);
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, text, json };
}

const q = () => `compat${randomUUID().slice(0, 8)}`;
const enqueue = async (t: Target, queue: string, body: unknown) => {
  const a = await call(t, "POST", `/enqueue/${queue}`, body);
  assert.equal(a.status, 200, a.text);
  return a;
};
const wait = async (t: Target, queues: string[], timeout: number): Promise<(Task | null)[]> => {
  const a = await call(t, "POST", "/wait/", { timeout, queues });
  assert.equal(a.status, 200, a.text);
  return a.json as (Task | null)[];
};
const peek = async (t: Target, queue: string, n = 10): Promise<Task[]> => {
  const a = await call(t, "GET", `/peek/${queue}?n=${n}`);
  assert.equal(a.status, 200, a.text);
  return a.json as Task[];
};
const ack = (t: Target, ids: string[]) => call(t, "POST", "/ack/", { ids });
const nak = (t: Target, ids: string[]) => call(t, "POST", "/nak/", { ids });

/** The emq README's endpoints and semantics, run against `target()`. */
function emqContract(label: string, target: () => Target, skip: string | false) {
  describe(`emq contract: ${label}`, { skip }, () => {
    it("enqueue, /queues/, /peek/, /wait/ and /ack/ with the README's bodies", async () => {
      const t = target();
      const name = q();
      await enqueue(t, name, { content: { to: "a@example.net" } });
      await enqueue(t, name, { content: [1, 2], retry: 30, expiry: 3600 });
      const queues = await call(t, "GET", "/queues/");
      assert.equal(queues.status, 200);
      assert.ok((queues.json as string[]).includes(name), queues.text);

      const seen = await peek(t, name, 5);
      assert.deepEqual(
        seen.map((x) => x.content),
        [{ to: "a@example.net" }, [1, 2]],
      );
      assert.equal(seen.length, 2);
      assert.deepEqual(
        (await peek(t, name, 1)).map((x) => x.id),
        [seen[0]?.id],
      );

      const [first] = await wait(t, [name], 1000);
      assert.deepEqual(first, seen[0]);
      // emq's peek lists the tasks not dispatched; jetq's lists in-flight ones too (docs/compatibility.md)
      assert.deepEqual(
        (await peek(t, name)).map((x) => x.id),
        t.isJetq ? [seen[0]?.id, seen[1]?.id] : [seen[1]?.id],
      );
      assert.equal((await ack(t, [first!.id])).status, 200);
      const [second] = await wait(t, [name], 1000);
      assert.equal(second?.id, seen[1]?.id);
      assert.equal((await ack(t, [second!.id])).status, 200);
      assert.deepEqual(await peek(t, name), []);
    });

    // jetq gives a timeout-0 wait a 20 ms grace to hand over queued tasks; on a busy machine it can answer
    // null while tasks wait, where emq takes what is there (docs/compatibility.md: known gap, left to the
    // intake redesign).
    const pollGap = label.startsWith("jetq") ? "jetq: a timeout-0 wait may miss queued tasks (20 ms grace)" : false;
    it("timeout 0 answers at once: null for an empty queue, distinct tasks for a repeated queue", {
      todo: pollGap,
    }, async () => {
      const t = target();
      const name = q();
      const t0 = Date.now();
      assert.deepEqual(await wait(t, [name], 0), [null]);
      assert.ok(Date.now() - t0 < 1000, "answered at once");
      await enqueue(t, name, { content: "x1" });
      await enqueue(t, name, { content: "x2" });
      await waitUntil(async () => (await peek(t, name)).length === 2, 5000, "both visible");
      const got = await wait(t, [name, name], 0);
      assert.deepEqual(got.map((x) => x?.content).sort(), ["x1", "x2"]);
      assert.equal(
        (
          await ack(
            t,
            got.map((x) => x!.id),
          )
        ).status,
        200,
      );
    });

    it("a blocked /wait/ is answered when a task arrives, long before its timeout", async () => {
      const t = target();
      const name = q();
      const pending = wait(t, [name], 20_000);
      const t0 = Date.now();
      await enqueue(t, name, { content: "wake" });
      const [got] = await pending;
      assert.equal(got?.content, "wake");
      assert.ok(Date.now() - t0 < 10_000, `answered after ${Date.now() - t0} ms`);
      assert.equal((await ack(t, [got!.id])).status, 200);
    });

    it("a /wait/ on several queues lasts until its timeout when one stays empty, then has null there", async () => {
      const t = target();
      const a = q();
      const b = q();
      await enqueue(t, a, { content: "a1" });
      const t0 = Date.now();
      const got = await wait(t, [a, b], 800);
      assert.ok(Date.now() - t0 >= 700, `answered after ${Date.now() - t0} ms`);
      assert.equal(got.length, 2);
      assert.equal(got[0]?.content, "a1");
      assert.equal(got[1], null);
      assert.equal((await ack(t, [got[0]!.id])).status, 200);
    });

    it("/nak/ puts a task back at the end of its queue", async () => {
      const t = target();
      const name = q();
      await enqueue(t, name, { content: "first" });
      await enqueue(t, name, { content: "second" });
      const [x] = await wait(t, [name], 1000);
      assert.equal(x?.content, "first");
      assert.equal((await nak(t, [x!.id])).status, 200);
      const [y] = await wait(t, [name], 5000);
      assert.equal(y?.content, "second", "the failed task went behind the waiting one");
      const [z] = await wait(t, [name], 10_000);
      assert.equal(z?.id, x?.id, "and is handed out again");
      assert.equal((await ack(t, [y!.id, z!.id])).status, 200);
    });

    it("a task not acknowledged within `retry` seconds is handed out again", async () => {
      const t = target();
      const name = q();
      await enqueue(t, name, { content: "slow", retry: 1 });
      const [x] = await wait(t, [name], 1000);
      const t0 = Date.now();
      const [again] = await wait(t, [name], 10_000);
      assert.equal(again?.id, x?.id);
      assert.ok(Date.now() - t0 >= 800, `handed out again after ${Date.now() - t0} ms`);
      assert.equal((await ack(t, [again!.id])).status, 200);
    });

    it("a task is gone after `expiry` seconds", async () => {
      const t = target();
      const name = q();
      await enqueue(t, name, { content: "short-lived", expiry: 1 });
      assert.equal((await peek(t, name)).length, 1);
      await waitUntil(async () => (await peek(t, name)).length === 0, 10_000, "expired");
      assert.deepEqual(await wait(t, [name], 0), [null]);
    });

    it("refuses bodies that are not JSON objects of the documented fields with 400", async () => {
      const t = target();
      const name = q();
      assert.equal((await call(t, "POST", `/enqueue/${name}`, "{not json")).status, 400);
      assert.equal((await call(t, "POST", `/enqueue/${name}`, { content: 1, priority: 3 })).status, 400);
      assert.equal((await call(t, "POST", "/wait/", { timeout: "soon", queues: [name] })).status, 400);
      assert.equal((await call(t, "POST", "/ack/", { ids: "x" })).status, 400);
      assert.equal((await call(t, "GET", `/peek/${name}?n=two`)).status, 400);
      assert.deepEqual(await peek(t, name), [], "nothing was enqueued");
    });

    // ---- deliberate differences (docs/compatibility.md) ----

    it("enqueue answers 200: emq with an empty body, jetq with the task id", async () => {
      const t = target();
      const name = q();
      const a = await enqueue(t, name, { content: "id?" });
      const [task] = await peek(t, name);
      if (t.isJetq) assert.deepEqual(a.json, { id: task?.id });
      else assert.equal(a.text, "");
    });

    it("acknowledging a task twice: emq ignores the second (200), jetq answers 404 task_not_found", async () => {
      const t = target();
      const name = q();
      await enqueue(t, name, { content: "once" });
      const [x] = await wait(t, [name], 1000);
      assert.equal((await ack(t, [x!.id])).status, 200);
      const again = await ack(t, [x!.id]);
      if (t.isJetq) {
        assert.equal(again.status, 404, again.text);
        assert.equal((again.json as { error: string }).error, "task_not_found");
      } else assert.equal(again.status, 200, again.text);
    });

    it("/peek/ without n: emq refuses it (400), jetq shows one task", async () => {
      const t = target();
      const name = q();
      await enqueue(t, name, { content: "p1" });
      await enqueue(t, name, { content: "p2" });
      const a = await call(t, "GET", `/peek/${name}`);
      if (t.isJetq)
        assert.deepEqual(
          (a.json as Task[]).map((x) => x.content),
          ["p1"],
        );
      else assert.equal(a.status, 400, a.text);
    });

    it("a restart: emq forgets every task (memory only), jetq keeps them", async () => {
      const t = target();
      const name = q();
      await enqueue(t, name, { content: "survivor?" });
      await t.restart();
      const left = await peek(t, name);
      if (t.isJetq)
        assert.deepEqual(
          left.map((x) => x.content),
          ["survivor?"],
        );
      else assert.deepEqual(left, []);
      if (t.isJetq) {
        const [x] = await wait(t, [name], 5000);
        assert.equal((await ack(t, [x!.id])).status, 200);
      }
    });
  });
}

let jetq: Target;
let emq: Target;
const emqSkip = peerSkip("emq");

before(async () => {
  await nats.ready;
  jetq = await jetqServe(nats.server.url);
  await jetq.start();
  if (!emqSkip) {
    emq = await realEmq();
    await emq.start();
  }
});
after(async () => {
  await jetq?.stop();
  await emq?.stop();
});

emqContract("jetq serve", () => jetq, false);
emqContract("real emq", () => emq, emqSkip);
