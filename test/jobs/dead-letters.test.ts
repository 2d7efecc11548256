import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import {
  Client,
  DeadLetters,
  type JetqEvent,
  NotFoundError,
  newTask,
  Router,
  StorageError,
  silentLogger,
  type Task,
  TaskState,
  type TaskStateEvent,
  TerminateTask,
  ValidationError,
} from "../../src/index.js";
import { QUEUE_EVENT, type QueueEvent, TASK_STATE_EVENT } from "../../src/jobs/events.js";
import { verifyTask } from "../../src/jobs/signing.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { deadLetterStream, queueConfigKey, redriveMsgId } from "../../src/jobs/storage/layout.js";
import { firstMatch, useNatsServer, waitUntil } from "../support/nats.js";
import { type Outcome, withWorker } from "../support/worker.js";

const nats = useNatsServer();
const uniq = () => `dl${randomUUID().slice(0, 8)}`;

/** Terminates a task while `payload.fail` is true, or until it has run `payload.failRuns` times. */
function flaky(): Router {
  const runs = new Map<string, number>();
  return new Router().handle("job", (t) => {
    const n = (runs.get(t.id) ?? 0) + 1;
    runs.set(t.id, n);
    const p = (t.payload ?? {}) as { fail?: boolean; failRuns?: number };
    if (p.fail || n <= (p.failRuns ?? 0)) throw new TerminateTask(`refused on run ${n}`);
    return `done on run ${n}`;
  });
}

const isOutcome =
  (taskId: string) =>
  (e: JetqEvent): boolean =>
    e.type === TASK_STATE_EVENT && e.taskId === taskId && e.final;

const queueEvent =
  (action: QueueEvent["action"], taskId?: string) =>
  (e: JetqEvent): boolean =>
    e.type === QUEUE_EVENT && e.action === action && (taskId === undefined || e.taskId === taskId);

/** Puts `n` tasks in the queue's dead-letter store (terminated) and returns them, oldest first. */
async function deadLettered(c: Client, outcome: Outcome, n: number, payload: object = { fail: true }): Promise<Task[]> {
  const tasks: Task[] = [];
  for (let i = 0; i < n; i++) {
    const t = await c.enqueue(newTask("job", payload));
    assert.equal((await outcome(t.id)).state, TaskState.Terminated);
    tasks.push(t);
  }
  return tasks;
}

describe("dead letters", () => {
  it("a task out of tries is dead-lettered with its last error and failure history (the last 10 tries)", async () => {
    let calls = 0;
    const router = new Router().handle("boom", () => {
      throw new Error(`boom ${++calls}`);
    });
    await withWorker(nats.server.url, { name: uniq(), maxTries: 12 }, router, async (c, outcome) => {
      const events = c.allEvents({ queue: c.queue.name });
      const t = await c.enqueue(newTask("boom", { n: 1 }));
      const rec = await outcome(t.id);
      assert.equal(rec.state, TaskState.Expired);
      const e = (await firstMatch(events, queueEvent("dead_lettered", t.id))) as QueueEvent;
      events.close();
      assert.deepEqual(e.detail, { reason: "expired" });

      const dl = await c.deadLetters.get(c.queue.name, t.id);
      assert.equal(dl.reason, "expired");
      assert.equal(dl.task.state, TaskState.Expired);
      assert.equal(dl.task.tries, 12);
      assert.equal(dl.task.lastError, "boom 12");
      assert.deepEqual(dl.task.payload, { n: 1 });
      assert.ok(Math.abs(dl.deadAt - Date.now()) < 10_000);
      const failures = dl.task.failures ?? [];
      assert.deepEqual(
        failures.map((f) => [f.try, f.error]),
        Array.from({ length: 10 }, (_, i) => [i + 3, `boom ${i + 3}`]),
      );
      assert.ok(failures.every((f, i) => i === 0 || f.at >= failures[i - 1]!.at));
      assert.deepEqual(rec.failures, dl.task.failures, "the final record carries the same history");
      assert.equal(await c.deadLetters.count(c.queue.name), 1);
    });
  });

  it("keeps terminated and past-deadline tasks, not completed ones; counts them in metrics", async () => {
    await withWorker(
      nats.server.url,
      { name: uniq() },
      flaky().handle("late", () => "never"),
      async (c, outcome) => {
        const ok = await c.enqueue(newTask("job", { fail: false }));
        const bad = await c.enqueue(newTask("job", { fail: true }));
        const past = await c.enqueue(newTask("late", null, { deadline: Date.now() - 1000 }));
        assert.equal((await outcome(ok.id)).state, TaskState.Complete);
        assert.equal((await outcome(bad.id)).state, TaskState.Terminated);
        assert.equal((await outcome(past.id)).state, TaskState.Expired);

        const { deadLetters } = await c.deadLetters.list(c.queue.name);
        const byId = new Map(deadLetters.map((d) => [d.task.id, d]));
        assert.deepEqual([...byId.keys()].sort(), [bad.id, past.id].sort());
        assert.equal(byId.get(bad.id)?.reason, "terminated");
        assert.equal(byId.get(bad.id)?.task.lastError, "refused on run 1");
        assert.deepEqual(
          byId.get(bad.id)?.task.failures?.map((f) => f.try),
          [1],
        );
        assert.equal(byId.get(past.id)?.reason, "expired");
        assert.equal(byId.get(past.id)?.task.lastError, "past deadline");
        assert.equal((await c.admin.queueInfo(c.queue.name)).deadLetters, 2);

        const text = await (await fetch(c.metricsUrl!)).text();
        assert.match(text, new RegExp(`jetq_dead_letters\\{queue="${c.queue.name}"\\} 2`));
        assert.match(text, new RegExp(`jetq_queue_events_total\\{queue="${c.queue.name}",action="dead_lettered"\\} 2`));
      },
      { metricsPort: 0 },
    );
  });

  it("keeps none for a queue created with deadLetters: false", async () => {
    await withWorker(nats.server.url, { name: uniq(), deadLetters: false }, flaky(), async (c, outcome) => {
      await deadLettered(c, outcome, 1);
      assert.equal(c.queue.deadLetters, false);
      assert.equal(await c.deadLetters.count(c.queue.name), 0);
      assert.deepEqual(await c.deadLetters.list(c.queue.name), { deadLetters: [] });
      await assert.rejects(handlesOf(c.storage).jsm.streams.info(deadLetterStream(c.queue.name)));
    });
  });

  it("creates the stream with the queue's retention, and lazily for queues defined before dead letters", async () => {
    const c = await Client.connect({
      servers: nats.server.url,
      queue: { name: uniq(), deadLetterRetentionMs: 60_000 },
      logger: silentLogger,
    });
    try {
      const info = await handlesOf(c.storage).jsm.streams.info(deadLetterStream(c.queue.name));
      assert.equal(info.config.max_age, 60_000 * 1_000_000);
      assert.equal(info.config.max_msgs_per_subject, 1);
      assert.equal(info.config.allow_direct, true);
      assert.deepEqual(info.config.subjects, [`jetq.dlq.${c.queue.name}.*`]);
      await assert.rejects(
        Client.connect({ servers: nats.server.url, queue: { name: uniq(), deadLetterRetentionMs: -1 } }),
        (e: unknown) => e instanceof ValidationError && e.code === "invalid_queue_config",
      );

      // A queue stored by an earlier version: its definition has no dead-letter fields and no stream exists.
      const old = uniq();
      await c.admin.prepareQueue({ name: old, deadLetters: false });
      const kv = await c.storage.configBucket();
      const { deadLetters: _a, deadLetterRetentionMs: _b, ...earlier } = await c.admin.getQueue(old);
      await kv.put(queueConfigKey(old), JSON.stringify(earlier));
      assert.equal((await kv.get(queueConfigKey(old)))?.string().includes("deadLetter"), false);
      await withWorker(nats.server.url, { name: old }, flaky(), async (w, outcome) => {
        assert.equal(w.queue.deadLetters, true);
        assert.equal(w.queue.deadLetterRetentionMs, 604_800_000);
        const [t] = await deadLettered(w, outcome, 1);
        assert.equal((await w.deadLetters.get(old, t!.id)).reason, "terminated");
        const lazy = await handlesOf(w.storage).jsm.streams.info(deadLetterStream(old));
        assert.equal(lazy.config.max_age, 604_800_000 * 1_000_000);
      });
    } finally {
      await c.close();
    }
  });

  it("lists oldest first in pages, gets one, and checks its arguments", async () => {
    await withWorker(nats.server.url, { name: uniq() }, flaky(), async (c, outcome) => {
      const q = c.queue.name;
      const tasks = await deadLettered(c, outcome, 5);
      const first = await c.deadLetters.list(q, { limit: 2 });
      assert.equal(first.deadLetters.length, 2);
      assert.ok(first.next);
      const second = await c.deadLetters.list(q, { limit: 2, after: first.next });
      const third = await c.deadLetters.list(q, { limit: 2, after: second.next! });
      assert.equal(third.deadLetters.length, 1);
      assert.equal(third.next, undefined);
      const all = [...first.deadLetters, ...second.deadLetters, ...third.deadLetters];
      assert.deepEqual(
        all.map((d) => d.task.id),
        tasks.map((t) => t.id),
      );
      assert.ok(all.every((d, i) => i === 0 || d.seq > all[i - 1]!.seq));
      assert.deepEqual(await c.deadLetters.get(q, tasks[2]!.id), all[2]);
      assert.equal((await c.deadLetters.list(q, { limit: 5 })).next, undefined, "a full last page has no next");

      const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
      await assert.rejects(c.deadLetters.get(q, "missing-task"), code("dead_letter_not_found"));
      await assert.rejects(c.deadLetters.get(q, "missing-task"), NotFoundError);
      await assert.rejects(c.deadLetters.get(q, "a.b"), code("invalid_id"));
      await assert.rejects(c.deadLetters.list("a.*"), code("invalid_queue_name"));
      await assert.rejects(c.deadLetters.list("never-made"), code("queue_not_found"));
      await assert.rejects(c.deadLetters.list(q, { limit: 0 }), code("invalid_limit"));
      await assert.rejects(c.deadLetters.list(q, { after: -1 }), code("invalid_after"));
    });
  });

  it("redrives one: it runs again from try 1 with its history, and its entry is gone", async () => {
    await withWorker(nats.server.url, { name: uniq() }, flaky(), async (c, outcome) => {
      const q = c.queue.name;
      const [t] = await deadLettered(c, outcome, 1, { failRuns: 1 });
      const events = c.allEvents({ queue: q });
      const redriven = await c.deadLetters.redrive(q, t!.id);
      assert.equal(redriven.state, TaskState.New);
      assert.equal(redriven.tries, 0);
      const seen: JetqEvent[] = [];
      await firstMatch(events, (e) => {
        seen.push(e);
        return seen.some(queueEvent("redriven", t!.id)) && seen.some(isOutcome(t!.id));
      });
      events.close();
      assert.equal((seen.find(isOutcome(t!.id)) as TaskStateEvent).state, TaskState.Complete);
      const rec = await c.loadTask(t!.id);
      assert.equal(rec.result?.value, "done on run 2");
      assert.equal(rec.tries, 1);
      assert.equal(rec.lastError, "refused on run 1", "the last error stays as history");
      assert.deepEqual(
        rec.failures?.map((f) => f.error),
        ["refused on run 1"],
      );
      assert.equal(await c.deadLetters.count(q), 0);
      await assert.rejects(c.deadLetters.redrive(q, t!.id), NotFoundError);
    });
  });

  it("a repeated redrive of one entry (after a crash before its deletion) enqueues the task once", async () => {
    const q = uniq();
    let seq = 0;
    let id = "";
    await withWorker(nats.server.url, { name: q }, flaky(), async (c, outcome) => {
      const [t] = await deadLettered(c, outcome, 1);
      id = t!.id;
      seq = (await c.deadLetters.get(q, id)).seq;
    });
    // No worker now: the queue's depth shows what was enqueued.
    const c = await Client.connect({ servers: nats.server.url, queue: q, logger: silentLogger });
    try {
      const dl = await c.deadLetters.get(q, id);
      dl.task.tries = 0;
      await c.engine.enqueuer.restart(dl.task, redriveMsgId(id, seq)); // the first redrive got this far
      await c.deadLetters.redrive(q, id);
      assert.equal((await c.admin.queueInfo(q)).depth, 1);
      assert.equal(await c.deadLetters.count(q), 0);
      assert.equal((await c.loadTask(id)).state, TaskState.New);
    } finally {
      await c.close();
    }
  });

  it("redrives all it held when called (tasks failing again wait), and purges one or all", async () => {
    await withWorker(nats.server.url, { name: uniq() }, flaky(), async (c, outcome) => {
      const q = c.queue.name;
      const again = await deadLettered(c, outcome, 2, { fail: true });
      const fixed = await deadLettered(c, outcome, 2, { failRuns: 1 });
      const seqs = new Map((await c.deadLetters.list(q)).deadLetters.map((d) => [d.task.id, d.seq]));
      const events = c.allEvents({ queue: q });
      assert.deepEqual(await c.deadLetters.redriveAll(q), { redriven: 4, skipped: 0 });
      const pending = new Set([...again, ...fixed].map((t) => t.id));
      await firstMatch(events, (e) => {
        if (e.type === TASK_STATE_EVENT && e.final) pending.delete(e.taskId);
        return pending.size === 0;
      });
      for (const t of fixed) assert.equal((await c.loadTask(t.id)).state, TaskState.Complete);
      const left = (await c.deadLetters.list(q)).deadLetters;
      assert.deepEqual(left.map((d) => d.task.id).sort(), again.map((t) => t.id).sort());
      assert.ok(
        left.every((d) => d.seq > (seqs.get(d.task.id) ?? 0)),
        "failed again: new entries",
      );

      assert.equal(await c.deadLetters.purge(q, again[0]!.id), 1);
      assert.equal(await c.deadLetters.purge(q, again[0]!.id), 0);
      const purged = await firstMatch(events, queueEvent("dead_letters_purged", again[0]!.id));
      assert.deepEqual((purged as QueueEvent).detail, { count: 1 });
      await deadLettered(c, outcome, 2);
      assert.equal(await c.deadLetters.purge(q), 3);
      assert.equal(await c.deadLetters.count(q), 0);
      assert.deepEqual(await c.deadLetters.redriveAll(q), { redriven: 0, skipped: 0 });
      events.close();
    });
  });

  it("redriven signed tasks keep their signature; a dropped past deadline needs the key to sign again", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const seed = privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32).toString("hex");
    const pub = publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("hex");
    const opts = { signingKey: seed, verificationKey: pub };
    await withWorker(
      nats.server.url,
      { name: uniq() },
      flaky(),
      async (c, outcome) => {
        const q = c.queue.name;
        const [plain] = await deadLettered(c, outcome, 1, { failRuns: 1 });
        const dated = await c.enqueue(newTask("job", { failRuns: 1 }, { deadline: Date.now() + 1500 }));
        assert.equal((await outcome(dated.id)).state, TaskState.Terminated);
        const events = c.events({ queue: q, final: true });

        const p = await c.deadLetters.redrive(q, plain!.id);
        assert.equal(p.signature, plain!.signature);
        assert.equal((await firstMatch(events, (e) => e.taskId === plain!.id)).state, TaskState.Complete);

        await waitUntil(() => Date.now() > dated.deadline!, 5_000, "deadline passed");
        const keyless = new DeadLetters({
          storage: c.storage,
          enqueuer: c.engine.enqueuer,
          signingKey: () => undefined,
        });
        await assert.rejects(
          keyless.redrive(q, dated.id),
          (e: unknown) => e instanceof ValidationError && e.code === "signing_key_required",
        );
        assert.deepEqual(await keyless.redriveAll(q), { redriven: 0, skipped: 1 });
        const d = await c.deadLetters.redrive(q, dated.id);
        assert.equal(d.deadline, undefined);
        assert.notEqual(d.signature, dated.signature);
        assert.ok(verifyTask(d, publicKey));
        assert.equal((await firstMatch(events, (e) => e.taskId === dated.id)).state, TaskState.Complete);
        events.close();
      },
      opts,
    );
  });

  it("writes the dead letter before the final record; a failed final record is retried, not run again", async () => {
    await withWorker(nats.server.url, { name: uniq(), maxTries: 1 }, flaky(), async (c, outcome) => {
      const q = c.queue.name;
      const save = c.storage.saveRecord.bind(c.storage);
      let seenBefore: number | undefined;
      c.storage.saveRecord = async (task: Task) => {
        if (task.state === TaskState.Terminated && seenBefore === undefined) {
          // Storage refuses the final record once: the entry must already be stored.
          seenBefore = (await c.deadLetters.get(q, task.id)).seq;
          throw new StorageError("storage_failed", "simulated failure of the final record");
        }
        return save(task);
      };
      const t = await c.enqueue(newTask("job", { fail: true }));
      const rec = await outcome(t.id);
      assert.equal(rec.state, TaskState.Terminated);
      assert.equal(rec.lastError, "refused on run 1", "the handler ran once: the outcome write was retried");
      assert.ok(seenBefore);
      const { deadLetters } = await c.deadLetters.list(q);
      assert.equal(deadLetters.length, 1);
      assert.ok(deadLetters[0]!.seq > seenBefore!, "the retried outcome rewrote the entry");
      assert.equal(deadLetters[0]!.task.lastError, "refused on run 1");
    });
  });
});
