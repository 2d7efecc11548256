import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, newTask, Router, TaskState, TerminateTask } from "../../src/index.js";
import { finalOutcomes, firstMatch, useNatsServer } from "../support/nats.js";
import { startGateway, type TestGateway, uniq } from "./gateway-support.js";

const nats = useNatsServer();
let g: TestGateway;

type Body = Record<string, unknown>;
const errorOf = (body: unknown) => (body as { error: string }).error;

/**
 * A queue created over REST with a library worker that terminates each task on its first run and
 * completes it on the next; `fail(n)` dead-letters n tasks and returns their ids.
 */
async function deadLetterQueue(config: Body = {}) {
  const q = uniq();
  assert.equal((await g.call("PUT", `/v1/queues/${q}`, config)).status, 201);
  const c: Client = await g.client(q);
  const runs = new Map<string, number>();
  const ac = new AbortController();
  const worker = c.run(
    new Router().handle("job", (t) => {
      const n = (runs.get(t.id) ?? 0) + 1;
      runs.set(t.id, n);
      if (n === 1) throw new TerminateTask("first run refused");
      return n;
    }),
    { signal: ac.signal },
  );
  const finals = finalOutcomes(c.events({ queue: q, final: true }));
  return {
    q,
    c,
    async fail(n: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const t = await c.enqueue(newTask("job", { i }));
        await finals.reached(t.id);
        ids.push(t.id);
      }
      return ids;
    },
    async stop() {
      ac.abort();
      await worker;
      finals.close();
    },
  };
}

describe("REST dead letters", () => {
  before(async () => {
    await nats.ready;
    g = await startGateway(nats.server);
  });
  after(async () => {
    await g.close();
  });

  it("lists, inspects, redrives and purges a queue's dead letters", async () => {
    const d = await deadLetterQueue({ dead_letter_retention_ms: 3_600_000 });
    try {
      const [a, b, c] = await d.fail(3);
      const info = await g.call("GET", `/v1/queues/${d.q}`);
      assert.equal((info.body as Body).dead_letters, 3);
      assert.equal(((info.body as Body).config as Body).dead_letter_retention_ms, 3_600_000);

      const page = await g.call("GET", `/v1/queues/${d.q}/dead-letters?limit=2`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      const { dead_letters, next } = page.body as { dead_letters: Body[]; next: number };
      assert.deepEqual(
        dead_letters.map((x) => (x.task as Body).id),
        [a, b],
      );
      const rest = await g.call("GET", `/v1/queues/${d.q}/dead-letters?limit=2&after=${next}`);
      assert.deepEqual(rest.body, { dead_letters: [(await entry(d.q, c!)).body.dead_letter] });

      const one = await entry(d.q, a!);
      assert.equal(one.status, 200);
      const dl = one.body.dead_letter;
      assert.equal(dl.reason, "terminated");
      assert.ok(Number.isFinite(Date.parse(dl.dead_at as string)));
      const task = dl.task as Body;
      assert.equal(task.state, TaskState.Terminated);
      assert.equal(task.last_err, "first run refused");
      assert.deepEqual(
        (task.failures as Body[]).map((f) => [f.try, f.error]),
        [[1, "first run refused"]],
      );

      const events = d.c.events({ queue: d.q, final: true });
      const redriven = await g.call("POST", `/v1/queues/${d.q}/dead-letters/${a}/redrive`);
      assert.equal(redriven.status, 200, JSON.stringify(redriven.body));
      assert.equal(((redriven.body as Body).task as Body).state, TaskState.New);
      assert.equal(((redriven.body as Body).task as Body).tries, 0);
      assert.equal((await firstMatch(events, (e) => e.taskId === a)).state, TaskState.Complete);
      assert.equal(errorOf((await entry(d.q, a!)).body), "dead_letter_not_found");
      const again = await g.call("POST", `/v1/queues/${d.q}/dead-letters/${a}/redrive`);
      assert.equal(again.status, 404);

      assert.deepEqual((await g.call("DELETE", `/v1/queues/${d.q}/dead-letters/${b}`)).body, { purged: 1 });
      const gone = await g.call("DELETE", `/v1/queues/${d.q}/dead-letters/${b}`);
      assert.equal(gone.status, 404);
      assert.equal(errorOf(gone.body), "dead_letter_not_found");

      const all = await g.call("POST", `/v1/queues/${d.q}/dead-letters/redrive`);
      assert.deepEqual(all.body, { redriven: 1, skipped: 0 });
      assert.equal((await firstMatch(events, (e) => e.taskId === c)).state, TaskState.Complete);
      events.close();

      await d.fail(2);
      assert.deepEqual((await g.call("DELETE", `/v1/queues/${d.q}/dead-letters`)).body, { purged: 2 });
      assert.deepEqual((await g.call("GET", `/v1/queues/${d.q}/dead-letters`)).body, { dead_letters: [] });
    } finally {
      await d.stop();
    }
  });

  it("answers bad names with 400, unknown queues and entries with 404, other methods with 405", async () => {
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, { dead_letters: false });
    const checks: [string, string, number, string][] = [
      ["GET", "/v1/queues/a.b/dead-letters", 400, "invalid_queue_name"],
      ["GET", `/v1/queues/${q}/dead-letters/a.b`, 400, "invalid_id"],
      ["POST", `/v1/queues/${q}/dead-letters/a.b/redrive`, 400, "invalid_id"],
      ["DELETE", `/v1/queues/${q}/dead-letters/a.b`, 400, "invalid_id"],
      ["GET", `/v1/queues/${q}/dead-letters?limit=0`, 400, "invalid_request"],
      ["GET", `/v1/queues/${q}/dead-letters?after=x`, 400, "invalid_request"],
      ["GET", "/v1/queues/never-made/dead-letters", 404, "queue_not_found"],
      ["POST", "/v1/queues/never-made/dead-letters/redrive", 404, "queue_not_found"],
      ["DELETE", "/v1/queues/never-made/dead-letters", 404, "queue_not_found"],
      ["GET", `/v1/queues/${q}/dead-letters/nope`, 404, "dead_letter_not_found"],
      ["POST", `/v1/queues/${q}/dead-letters/nope/redrive`, 404, "dead_letter_not_found"],
      ["DELETE", `/v1/queues/${q}/dead-letters/nope`, 404, "dead_letter_not_found"],
      ["PUT", `/v1/queues/${q}/dead-letters`, 405, "method_not_allowed"],
      ["GET", `/v1/queues/${q}/dead-letters/redrive`, 404, "dead_letter_not_found"],
      ["PUT", `/v1/queues/${q}/dead-letters/nope/redrive`, 405, "method_not_allowed"],
    ];
    for (const [method, path, status, code] of checks) {
      const a = await g.call(method, path);
      assert.equal(a.status, status, `${method} ${path}: ${JSON.stringify(a.body)}`);
      assert.equal(errorOf(a.body), code, `${method} ${path}`);
    }
    const view = await g.call("GET", `/v1/queues/${q}`);
    assert.equal(((view.body as Body).config as Body).dead_letters, false);
    assert.equal((view.body as Body).dead_letters, 0);
    const bad = await g.call("PUT", `/v1/queues/${uniq()}`, { dead_letters: "yes" });
    assert.equal(errorOf(bad.body), "invalid_request");
  });

  it("documents the endpoints in the OpenAPI document", async () => {
    const doc = (await g.call("GET", "/v1/openapi.json")).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    const expected: [string, string][] = [
      ["/v1/queues/{queue}/dead-letters", "get"],
      ["/v1/queues/{queue}/dead-letters", "delete"],
      ["/v1/queues/{queue}/dead-letters/redrive", "post"],
      ["/v1/queues/{queue}/dead-letters/{id}", "get"],
      ["/v1/queues/{queue}/dead-letters/{id}", "delete"],
      ["/v1/queues/{queue}/dead-letters/{id}/redrive", "post"],
    ];
    for (const [path, method] of expected) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path} documented`);
      assert.ok(op.responses["404"], `${method} ${path} documents 404`);
    }
    for (const name of ["DeadLetter", "DeadLetterList", "RedriveAll"]) assert.ok(doc.components.schemas[name], name);
  });
});

async function entry(q: string, id: string): Promise<{ status: number; body: { dead_letter: Body } }> {
  const a = await g.call("GET", `/v1/queues/${q}/dead-letters/${id}`);
  return { status: a.status, body: a.body as { dead_letter: Body } };
}
