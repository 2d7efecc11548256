import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newTask, Router, TaskState } from "../../src/index.js";
import { MAX_PREFETCH } from "../../src/jobs/queue-intake.js";
import { EMQ_TASK_TYPE } from "../../src/server/index.js";
import { deferred, useNatsServer, waitUntil } from "../support/nats.js";
import { type Answer, startGateway, type TestGateway, uniq } from "./gateway-support.js";

const nats = useNatsServer();
let g: TestGateway;

type EmqTask = { id: string; content: unknown } | null;
const tasks = (a: Answer): EmqTask[] => {
  assert.equal(a.status, 200, JSON.stringify(a.body));
  return a.body as EmqTask[];
};
const enqueue = async (queue: string, body: unknown): Promise<string> => {
  const a = await g.call("POST", `/enqueue/${queue}`, body);
  assert.equal(a.status, 200, JSON.stringify(a.body));
  return (a.body as { id: string }).id;
};
const wait = (queues: string[], timeout: number) => g.call("POST", "/wait/", { timeout, queues }, {}).then(tasks);
const ack = (ids: string[]) => g.call("POST", "/ack/", { ids });
/** The queue's `in_flight` count: dispatched, and held by the gateway's feed. */
const inFlight = async (queue: string) =>
  ((await g.call("GET", `/v1/queues/${queue}`)).body as { in_flight: number }).in_flight;
/** Runs a library worker on `queue` until it has run `count` tasks; the ids it ran. */
const runOnWorker = async (queue: string, count: number, what: string): Promise<string[]> => {
  const c = await g.client(queue);
  const seen: string[] = [];
  const ac = new AbortController();
  const done = c.run(
    new Router().handle(EMQ_TASK_TYPE, (t) => {
      seen.push(t.id);
      return "ok";
    }),
    { signal: ac.signal },
  );
  await waitUntil(() => seen.length === count, 5000, what);
  ac.abort();
  await done;
  return seen;
};

describe("emq endpoints", () => {
  // Hooks inside the suite: they run before useNatsServer's top-level `after` stops the server.
  before(async () => {
    await nats.ready;
    g = await startGateway(nats.server, { nakDelayMs: 100 });
  });
  after(async () => {
    await g.close();
  });

  it("enqueue, queues, peek, wait and ack with emq's bodies and replies", async () => {
    const q = uniq();
    const t0 = Date.now();
    const a = await enqueue(q, { content: { to: "a@example.net" } });
    const b = await enqueue(q, { content: [1, 2], retry: 30, expiry: 3600 });
    assert.match(b, /:r30000$/);

    const names = await g.call("GET", "/queues/");
    assert.equal(names.status, 200);
    assert.ok((names.body as string[]).includes(q));

    const peek = await g.call("GET", `/peek/${q}?n=5`);
    assert.deepEqual(peek.body, [
      { id: a, content: { to: "a@example.net" } },
      { id: b, content: [1, 2] },
    ]);
    assert.deepEqual((await g.call("GET", `/peek/${q}?n=1`)).body, [{ id: a, content: { to: "a@example.net" } }]);

    const [got] = await wait([q], 1000);
    assert.deepEqual(got, { id: a, content: { to: "a@example.net" } });
    const acked = await ack([a]);
    assert.equal(acked.status, 200);
    assert.deepEqual(acked.body, { count: 1 });

    const task = await g.storage.loadTask(a);
    assert.equal(task.state, TaskState.Complete);
    assert.equal(task.type, EMQ_TASK_TYPE);
    assert.deepEqual(task.payload, { to: "a@example.net" });
    assert.ok(task.deadline! >= t0 + 86_400_000 && task.deadline! <= Date.now() + 86_400_000);
    assert.ok((await g.storage.loadTask(b)).deadline! <= Date.now() + 3_600_000);

    const again = await ack([a]);
    assert.equal(again.status, 404);
    assert.equal((again.body as { error: string }).error, "task_not_found");
    const [second] = await wait([q], 1000);
    assert.equal(second?.id, b);
    assert.equal((await ack([b, b])).status, 200);
    assert.equal(g.gw.leased, 0);
  });

  it("wakes a blocked /wait within milliseconds of a library enqueue", async () => {
    const q = uniq();
    const c = await g.client(q);
    const pending = wait([q], 10_000);
    await new Promise((r) => setTimeout(r, 300)); // the pull request is registered
    const sent = performance.now();
    const t = await c.enqueue(newTask("wake", { n: 1 }));
    const [got] = await pending;
    const latency = performance.now() - sent;
    assert.equal(got?.id, t.id);
    assert.deepEqual(got?.content, { n: 1 });
    assert.ok(latency < 1000, `woke after ${latency} ms`);
    assert.equal((await ack([t.id])).status, 200);
  });

  it("answers in queue order with repeats, and null where a queue had nothing when the wait ended", async () => {
    const qa = uniq();
    const qb = uniq();
    const a1 = await enqueue(qa, { content: "a1" });
    const a2 = await enqueue(qa, { content: "a2" });
    await g.call("PUT", `/v1/queues/${qb}`, {});

    const started = Date.now();
    const got = await wait([qa, qb, qa], 400);
    assert.ok(Date.now() - started >= 350, "a wait that cannot fill every entry lasts until its timeout");
    assert.deepEqual(
      got.map((t) => t?.id ?? null),
      [a1, null, a2],
    );
    assert.equal((await ack([a1, a2])).status, 200);

    const quick = Date.now();
    assert.deepEqual(await wait([qa], 0), [null]);
    assert.ok(Date.now() - quick < 500, "timeout 0 answers at once");
    assert.deepEqual(await wait([], 5000), []);

    // every entry filled → answered before the timeout, when the last task arrives
    const pending = wait([qa, qb], 10_000);
    const b1 = await enqueue(qb, { content: "b1" });
    await new Promise((r) => setTimeout(r, 200));
    const a3 = await enqueue(qa, { content: "a3" });
    const filled = await pending;
    assert.deepEqual(
      filled.map((t) => t?.id),
      [a3, b1],
    );
    assert.equal((await ack([a3, b1])).status, 200);
  });

  it("/nak puts a task back to be tried again until it runs out of tries", async () => {
    const q = uniq();
    await g.client({ name: q, maxTries: 2 });
    const id = await enqueue(q, { content: "flaky" });
    const [first] = await wait([q], 1000);
    assert.equal(first?.id, id);
    assert.deepEqual((await g.call("POST", "/nak/", { ids: [id] })).body, { count: 1 });
    assert.equal((await g.storage.loadTask(id)).state, TaskState.Retry);

    const [second] = await wait([q], 3000);
    assert.equal(second?.id, id, "redelivered after the nak back-off");
    // Its `active` record is written once the try has lasted 100 ms, as for a worker.
    await waitUntil(async () => (await g.storage.loadTask(id)).tries === 2, 5000, "second try recorded");
    assert.equal((await g.call("POST", "/nak/", { ids: [id] })).status, 200);
    const expired = await g.storage.loadTask(id);
    assert.equal(expired.state, TaskState.Expired, "the last allowed try failed");
    assert.deepEqual(await wait([q], 300), [null]);
  });

  it("an un-acked task counts as failed after its retry timeout and is handed out again", async () => {
    const q = uniq();
    const id = await enqueue(q, { content: "slow", retry: 0.3 });
    const [first] = await wait([q], 1000);
    assert.equal(first?.id, id);
    const t0 = Date.now();
    const [again] = await wait([q], 5000);
    assert.equal(again?.id, id);
    assert.ok(Date.now() - t0 >= 250, "not before the retry timeout");
    await waitUntil(async () => (await g.storage.loadTask(id)).tries === 2, 5000, "second try recorded");
    const rec = await g.storage.loadTask(id);
    assert.match(rec.lastError ?? "", /not acknowledged within 300 ms/);
    assert.equal((await ack([id])).status, 200);
    assert.equal((await g.storage.loadTask(id)).state, TaskState.Complete);
  });

  it("never hands out a task past its expiry", async () => {
    const q = uniq();
    const id = await enqueue(q, { content: "short-lived", expiry: 0.2 });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await g.call("GET", `/peek/${q}?n=10`)).body, []);
    assert.deepEqual(await wait([q], 300), [null]);
    await waitUntil(async () => (await g.storage.loadTask(id)).state === TaskState.Expired, 5000, "expired");
  });

  it("one storage, many faces: HTTP-enqueued tasks run on library workers and vice versa", async () => {
    const q = uniq();
    const c = await g.client(q);
    const seen = deferred<unknown>();
    const ac = new AbortController();
    const done = c.run(
      new Router().handle(EMQ_TASK_TYPE, (t) => {
        seen.resolve(t.payload);
        return "done";
      }),
      { signal: ac.signal },
    );
    const id = await enqueue(q, { content: { via: "http" } });
    assert.deepEqual(await seen.promise, { via: "http" });
    await waitUntil(async () => (await c.loadTask(id)).state === TaskState.Complete, 5000, "completed by the worker");
    ac.abort();
    await done;

    const t = await c.enqueue(newTask("report", { via: "library" }));
    const [got] = await wait([q], 2000);
    assert.deepEqual(got, { id: t.id, content: { via: "library" } });
    // the `active` record is written without waiting (as for library workers)
    await waitUntil(async () => (await c.loadTask(t.id)).state === TaskState.Active, 5000, "active");
    assert.equal((await ack([t.id])).status, 200);
    const loaded = await c.loadTask(t.id);
    assert.equal(loaded.state, TaskState.Complete);
    assert.equal(loaded.tries, 1);
  });

  it("shares the queue's max concurrency between HTTP consumers", async () => {
    const q = uniq();
    await g.client({ name: q, maxConcurrent: 2 });
    const ids = [await enqueue(q, { content: 1 }), await enqueue(q, { content: 2 }), await enqueue(q, { content: 3 })];
    const [x] = await wait([q], 1000);
    const [y] = await wait([q], 1000);
    assert.deepEqual([x?.id, y?.id], ids.slice(0, 2));
    assert.deepEqual(await wait([q], 400), [null], "two in flight: the third waits");
    const info = await g.call("GET", `/v1/queues/${q}`);
    assert.equal((info.body as { in_flight: number }).in_flight, 2);
    assert.equal((await ack([x!.id])).status, 200);
    const [z] = await wait([q], 3000);
    assert.equal(z?.id, ids[2]);
    assert.equal((await ack([y!.id, z!.id])).status, 200);
  });

  it("answers a pending /wait with what it holds at stop; unacked tasks are redelivered after the ack wait", async () => {
    const own = await startGateway(nats.server);
    const q = uniq();
    const empty = uniq();
    const c = await own.client({ name: q, maxRunTimeMs: 1000 });
    await own.call("PUT", `/v1/queues/${empty}`, {});
    const t = await c.enqueue(newTask("held", 1));
    const started = Date.now();
    const pending = own.call("POST", "/wait/", { timeout: 20_000, queues: [q, empty] });
    await waitUntil(() => own.gw.leased === 1, 5000, "held");
    const closing = own.close();
    const answer = await pending;
    await closing;
    assert.equal(answer.status, 200);
    assert.deepEqual(
      (answer.body as EmqTask[]).map((x) => x?.id ?? null),
      [t.id, null],
    );
    assert.ok(Date.now() - started < 10_000);

    // left unacknowledged: another consumer gets it after the ack wait (1 s here)
    const [again] = await wait([q], 5000);
    assert.equal(again?.id, t.id);
    assert.equal((await ack([t.id])).status, 200);
  });

  it("gives held tasks back when the waiting client goes away", async () => {
    const q = uniq();
    const empty = uniq();
    await g.call("PUT", `/v1/queues/${empty}`, {});
    const id = await enqueue(q, { content: "held" });
    const ac = new AbortController();
    const gone = fetch(`${g.url}/wait/`, {
      method: "POST",
      body: JSON.stringify({ timeout: 10_000, queues: [q, empty] }),
      signal: ac.signal,
    }).catch((err: Error) => err);
    await waitUntil(() => g.gw.leased === 1, 5000, "task held for the gathering wait");
    ac.abort();
    await gone;
    const [got] = await wait([q], 3000);
    assert.equal(got?.id, id, "the released task is handed out again");
    assert.equal((await ack([id])).status, 200);
  });

  it("fetches ahead for as many /waits as came at once, and gives what nobody took back without a try", async () => {
    const q = uniq();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await enqueue(q, { content: i }));
    // Four waits at once: the feed learns that four slots can wait together.
    const first = (await Promise.all([0, 1, 2, 3].map(() => wait([q], 2000)))).map(([t]) => t!.id);
    assert.deepEqual(first.toSorted(), ids.slice(0, 4).toSorted());
    assert.equal((await ack(first)).status, 200);
    // One more wait fetches for four: one is handed out, three wait in the gateway (kept alive).
    const [fifth] = await wait([q], 2000);
    assert.equal(fifth?.id, ids[4]);
    assert.equal(await inFlight(q), 4, "one dispatched and three fetched ahead");
    assert.equal((await ack([fifth!.id])).status, 200);
    // Nobody waits any more: the three go back to the queue after the linger, costing no try.
    const c = await g.client(q);
    const released = async () => (await Promise.all(ids.slice(5).map((id) => c.loadTask(id)))).map((t) => t.releases);
    await waitUntil(async () => (await released()).every((n) => n === 1), 5000, "prefetched tasks handed back");
    const seen = await runOnWorker(q, 3, "a library worker ran the handed-back tasks");
    assert.deepEqual(seen.toSorted(), ids.slice(5).toSorted());
    for (const id of ids.slice(5)) {
      const t = await c.loadTask(id);
      assert.equal(t.state, TaskState.Complete);
      assert.equal(t.tries, 1, "handing back used no try");
      assert.equal(t.releases, 1, "each was fetched ahead once and handed back once");
    }
  });

  it("fetches ahead for one client that keeps coming back, and not for a first /wait", async () => {
    const q = uniq();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await enqueue(q, { content: i }));
    // A first /wait takes only what it asks for: a client that waits now and then costs no hand-backs.
    const [first] = await wait([q], 2000);
    assert.equal(first?.id, ids[0]);
    assert.equal(await inFlight(q), 1, "nothing fetched ahead for a first wait");
    assert.equal((await ack([first!.id])).status, 200);
    // The same client waiting again and again: the feed fetches ahead for what it recently took.
    let most = 0;
    for (let i = 1; i < 12; i++) {
      const [t] = await wait([q], 2000);
      assert.equal(t?.id, ids[i], "one client gets the tasks in order");
      most = Math.max(most, await inFlight(q));
      assert.equal((await ack([t!.id])).status, 200);
    }
    assert.ok(most > 2, `deliveries were fetched ahead (most in flight ${most})`);
    assert.ok(most <= 1 + MAX_PREFETCH, `at most ${MAX_PREFETCH} fetched ahead (most in flight ${most})`);
    // The rest are still there for a library worker once the client stops.
    const seen = await runOnWorker(q, ids.length - 12, "a library worker ran the rest");
    assert.deepEqual(seen.toSorted(), ids.slice(12).toSorted());
  });

  it("serves a more urgent task before the deliveries it fetched ahead", async () => {
    const q = uniq();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await enqueue(q, { content: i }));
    let held = 0;
    for (let i = 0; held < 3; i++) {
      assert.ok(i < 20, "the feed fetched ahead within 20 waits");
      const [t] = await wait([q], 2000);
      held = (await inFlight(q)) - 1;
      assert.equal((await ack([t!.id])).status, 200);
    }
    // Default-priority deliveries now wait in the gateway; an urgent task is still pulled and given first.
    const c = await g.client(q);
    const before = await inFlight(q);
    const urgent = await c.enqueue(newTask(EMQ_TASK_TYPE, "urgent", { priority: 0 }));
    await waitUntil(
      async () => (await inFlight(q)) > before,
      5000,
      "the urgent task was fetched while no /wait waited",
    );
    const [next] = await wait([q], 2000);
    assert.equal(next?.id, urgent.id);
    assert.equal((await ack([urgent.id])).status, 200);
  });
});
