import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdTable } from "../../src/dashboard/id-table.js";
import { Instances } from "../../src/dashboard/instances.js";
import { QueueSeries } from "../../src/dashboard/queue-series.js";
import { readTaskEvent } from "../../src/dashboard/task-event-reader.js";
import { TaskIndex } from "../../src/dashboard/task-index.js";
import { encodeTaskEvent } from "../../src/jobs/events.js";
import { newTask, TaskState } from "../../src/jobs/task.js";

const all = (ix: TaskIndex, q: Parameters<TaskIndex["page"]>[0]) => {
  const out: string[] = [];
  let before: number | undefined;
  for (;;) {
    const p = ix.page({ ...q, ...(before !== undefined ? { before } : {}) });
    out.push(...p.ids);
    if (p.next === undefined) return out;
    before = p.next;
  }
};

describe("the task index", () => {
  it("lists by queue, state and type, most recent change first, in pages", () => {
    const ix = new TaskIndex();
    for (let i = 0; i < 10; i++)
      ix.set(`t${i}`, i % 2 ? "odd" : "even", TaskState.Complete, i < 5 ? "a" : "b", 1000 + i);
    assert.deepEqual(ix.page({ state: TaskState.Complete, limit: 3 }).ids, ["t9", "t8", "t7"]);
    assert.deepEqual(all(ix, { queue: "odd", state: TaskState.Complete, limit: 2 }), ["t9", "t7", "t5", "t3", "t1"]);
    assert.deepEqual(all(ix, { queue: "even", type: "a", limit: 10 }), ["t4", "t2", "t0"]);
    assert.deepEqual(ix.page({ queue: "nope", limit: 5 }).ids, []);
    assert.equal(ix.page({ state: TaskState.Complete, limit: 10 }).next, undefined, "no cursor when nothing follows");
    assert.deepEqual(ix.counts().get("odd"), { complete: 5 });
    assert.deepEqual(ix.typesOf("even"), ["a", "b"]);
  });

  it("moves a task between states, drops waiting ones and keeps counts exact through compactions", () => {
    const ix = new TaskIndex();
    ix.set("x", "q", TaskState.Active, "t", 1);
    ix.set("x", "q", TaskState.Retry, "t", 2);
    assert.deepEqual(ix.page({ state: TaskState.Active, limit: 5 }).ids, []);
    assert.deepEqual(ix.page({ state: TaskState.Retry, limit: 5 }).ids, ["x"]);
    ix.set("x", "q", TaskState.New, "t", 3);
    assert.equal(ix.get("x"), undefined, "a waiting task is listed from its queue, not the index");
    // Many tasks through active → complete: active's stale entries are compacted away.
    for (let i = 0; i < 5000; i++) {
      ix.set(`y${i}`, "q", TaskState.Active, "t", 10 + i);
      if (i % 10 !== 0) ix.set(`y${i}`, "q", TaskState.Complete, "t", 10 + i);
    }
    assert.equal(ix.counts().get("q")?.active, 500);
    assert.equal(ix.counts().get("q")?.complete, 4500);
    assert.equal(all(ix, { state: TaskState.Active, limit: 64 }).length, 500);
    assert.equal(all(ix, { queue: "q", limit: 1000 }).length, 5000);
    assert.equal(all(ix, { state: TaskState.Active, limit: 7 })[0], "y4990");
  });

  it("keeps a newer change over an older replayed record, and sweeps records gone from the stream", () => {
    const ix = new TaskIndex();
    ix.set("a", "q", TaskState.Complete, "t", 200);
    ix.set("a", "q", TaskState.Active, "t", 100, true);
    assert.equal(ix.get("a")?.state, TaskState.Complete);
    ix.set("b", "q", TaskState.Expired, "t", 50);
    ix.set("c", "q", TaskState.Expired, "t", 60);
    ix.beginSweep();
    ix.set("a", "q", TaskState.Complete, "t", 200, true); // replayed
    ix.set("c", "q", TaskState.Cancelled, "t", 300); // changed by an event meanwhile
    assert.equal(ix.endSweep(1000), 1, "b was neither replayed nor changed");
    assert.deepEqual(
      [ix.get("a")?.state, ix.get("b"), ix.get("c")?.state],
      [TaskState.Complete, undefined, TaskState.Cancelled],
    );
    assert.equal(ix.expire(250), 1, "a's last change is older than the max age");
    assert.equal(ix.size, 1);
  });
});

describe("the per-queue time series", () => {
  it("counts per second and gives latency quantiles of the tasks started", () => {
    let now = 1_000_000_000_000;
    const s = new QueueSeries({ seconds: 60, now: () => now });
    for (let i = 0; i < 100; i++) s.record("q", "started", now + 10, i + 1);
    s.record("q", "completed", now + 20);
    s.record("r", "failed", now + 30);
    now += 1000;
    const v = s.view("q", 5);
    assert.equal(v.started.at(-1), 100);
    assert.equal(v.completed.at(-1), 1);
    assert.equal(v.p50.at(-1), 51);
    assert.equal(v.p99.at(-1), 100);
    assert.equal(s.view("*", 1).failed[0], 1, "the all-queues series counts every queue");
    assert.equal(s.rates("q", 10).started, 10);
    assert.deepEqual(s.queues().sort(), ["q", "r"]);
    now += 61_000;
    assert.equal(
      s.view("q").started.reduce((a, b) => a + b, 0),
      0,
      "an hour later (here 60 s) it is gone",
    );
    s.prune();
    assert.deepEqual(s.queues(), []);
  });
});

describe("the instances heartbeats describe", () => {
  it("keeps well-formed heartbeats, forgets stopped and silent instances, refuses malformed ones", () => {
    let now = 5_000;
    const ix = new Instances({ now: () => now, staleAfterMs: 15_000 });
    const beat = (o: Record<string, unknown>) => Buffer.from(JSON.stringify(o));
    const worker = {
      type: "jetq.v1.worker_heartbeat",
      instance: "w1",
      host: "h",
      pid: 1,
      version: "1",
      queues: ["a", "b.c"],
      concurrency: 4,
      running: 2,
      started: new Date(0).toISOString(),
    };
    assert.equal(ix.heartbeat("jetq.hb.worker.w1", beat(worker)), true);
    assert.equal(ix.heartbeat("jetq.hb.worker.other", beat(worker)), false, "the subject must name the instance");
    assert.equal(ix.heartbeat("jetq.hb.worker.w1", Buffer.from("{")), false);
    assert.equal(
      ix.heartbeat(
        "jetq.hb.serve.s1",
        beat({ type: "jetq.v1.serve_heartbeat", instance: "s1", roles: { scheduler: "leader" } }),
      ),
      true,
    );
    const l = ix.list();
    assert.deepEqual(l.workers[0]?.queues, ["a"], "invalid queue names are dropped");
    assert.equal(l.workers[0]?.running, 2);
    assert.equal(l.serves[0]?.roles.scheduler, "leader");
    assert.equal(l.serves[0]?.roles.task_scheduler, "follower");
    ix.heartbeat("jetq.hb.worker.w1", beat({ ...worker, stopping: true }));
    assert.equal(ix.list().workers.length, 0);
    now += 16_000;
    assert.equal(ix.list().serves.length, 0);
  });
});

describe("reading task events", () => {
  it("takes the facts from the subject and the body as jetq writes it, and checks them", () => {
    const t = newTask("mail:send", { to: "x" }, { id: "abc" });
    t.queue = "emails";
    t.state = TaskState.Active;
    t.tries = 1;
    const facts = readTaskEvent("jetq.ev.task.emails.step.active", encodeTaskEvent(t, t.createdAt + 25));
    assert.deepEqual(
      { ...facts, timestamp: undefined },
      {
        taskId: "abc",
        queue: "emails",
        state: "active",
        taskType: "mail:send",
        tries: 1,
        ageMs: 25,
        timestamp: undefined,
      },
    );
    // Another writer's field order and spacing: the full parser reads it.
    const other = Buffer.from(
      JSON.stringify(
        {
          type: "jetq.v1.task_state",
          timestamp: new Date().toISOString(),
          task_age: 7,
          tries: 2,
          task_type: "t",
          task_id: "x1",
          state: "retry",
        },
        null,
        1,
      ),
    );
    assert.equal(readTaskEvent("jetq.ev.task.emails.step.retry", other)?.taskId, "x1");
    assert.equal(readTaskEvent("jetq.ev.queue.emails.paused", other), undefined, "not a task event");
    assert.equal(
      readTaskEvent("jetq.ev.task.emails.final.active", other),
      undefined,
      "a final subject with a non-final state",
    );
    assert.equal(readTaskEvent("jetq.ev.task.emails.step.bogus", other), undefined);
    assert.throws(() => readTaskEvent("jetq.ev.task.emails.step.retry", Buffer.from("{")));
    const badId = Buffer.from(encodeTaskEvent({ ...t, id: "a.b" } as typeof t));
    assert.equal(
      readTaskEvent("jetq.ev.task.emails.step.active", badId),
      undefined,
      "an id that could reach a subject is refused",
    );
  });
});

describe("the id table", () => {
  it("finds, removes and reuses like a map through growth, rehashes and compactions", () => {
    const t = new IdTable();
    const model = new Map<string, number>();
    const free: number[] = [];
    let next = 0;
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let step = 0; step < 60_000; step++) {
      const id = `task-${rnd(20_000)}`;
      if (model.has(id)) {
        assert.equal(t.delete(id), model.get(id));
        free.push(model.get(id)!);
        model.delete(id);
      } else {
        const slot = free.pop() ?? next++;
        t.add(id, slot);
        model.set(id, slot);
      }
    }
    assert.equal(t.size, model.size);
    for (const [id, slot] of model) {
      assert.equal(t.find(id), slot);
      assert.equal(t.idOf(slot), id);
    }
    assert.equal(t.find("task-none"), undefined);
    assert.equal(t.delete("task-none"), undefined);
  });
});
