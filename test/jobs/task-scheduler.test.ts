import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client, silentLogger, ValidationError } from "../../src/index.js";
import { TaskScheduler } from "../../src/jobs/task-scheduler.js";
import { useNatsServer, waitUntil } from "../support/nats.js";

const nats = useNatsServer();

describe("scheduled tasks (cron) with leader election", () => {
  it("stores, lists and removes schedules with validation", async () => {
    const c = await Client.connect({ servers: nats.server.url, queue: "cronq1", logger: silentLogger });
    try {
      const s = await c.scheduledTasks();
      await s.create({
        name: "nightly",
        schedule: "0 0 3 * * *",
        tz: "Europe/Paris",
        queue: "cronq1",
        type: "report",
        payload: { kind: "daily" },
      });
      await assert.rejects(s.create({ name: "nightly", schedule: "@every 1m", queue: "cronq1", type: "x" }), {
        code: "schedule_exists",
      });
      await assert.rejects(
        s.create({ name: "bad.name", schedule: "@every 1m", queue: "cronq1", type: "x" }),
        ValidationError,
      );
      await assert.rejects(s.create({ name: "badcron", schedule: "every day", queue: "cronq1", type: "x" }), {
        code: "invalid_cron",
      });
      assert.deepEqual(
        (await s.list()).map((x) => x.name),
        ["nightly"],
      );
      assert.equal((await s.load("nightly")).tz, "Europe/Paris");
      await s.remove("nightly");
      await assert.rejects(s.load("nightly"), { code: "schedule_not_found" });
    } finally {
      await c.close();
    }
  });

  it("a paused schedule creates no task until it is resumed", async () => {
    const c = await Client.connect({ servers: nats.server.url, queue: "cronq3", logger: silentLogger });
    const ts = new TaskScheduler({
      storage: c.storage,
      put: (t, id) => c.engine.enqueuer.put(t, id),
      log: silentLogger,
      name: "p",
      graceMs: 0,
    });
    const created: string[] = [];
    const sub = c.nc.subscribe("jetq.ev.task.cronq3.step.new", {
      callback: (_e, m) => {
        created.push(m.json<{ task_id: string }>().task_id);
      },
    });
    try {
      const s = await c.scheduledTasks();
      await s.create({ name: "often", schedule: "@every 100ms", queue: "cronq3", type: "x" });
      await ts.start();
      await waitUntil(() => ts.isLeader && created.length > 0, 10_000, "a first tick");
      assert.equal((await s.setPaused("often", true)).paused, true);
      await waitUntil(() => ts.count() === 0, 10_000, "the timer disarmed");
      const atPause = created.length;
      // Ten ticks' worth of time, measured by the events of another schedule.
      await s.create({ name: "clock", schedule: "@every 50ms", queue: "cronq3", type: "clock" });
      await waitUntil(() => created.filter((id) => id.startsWith("cron:clock:")).length >= 20, 10_000, "clock ticks");
      assert.equal(created.filter((id) => id.startsWith("cron:often:")).length, atPause, "nothing fired while paused");
      assert.equal((await s.setPaused("often", false)).paused, undefined);
      await waitUntil(
        () => created.filter((id) => id.startsWith("cron:often:")).length > atPause,
        10_000,
        "fires again",
      );
    } finally {
      const s = await c.scheduledTasks();
      for (const name of ["often", "clock"]) await s.remove(name).catch(() => undefined);
      sub.unsubscribe();
      await ts.stop();
      await c.close();
    }
  });

  it("only the leader fires; each tick creates one task even across a failover", async () => {
    const c = await Client.connect({ servers: nats.server.url, queue: "cronq2", logger: silentLogger });
    const a = new TaskScheduler({
      storage: c.storage,
      put: (t, id) => c.engine.enqueuer.put(t, id),
      log: silentLogger,
      name: "a",
      electionTtlMs: 1000,
    });
    const b = new TaskScheduler({
      storage: c.storage,
      put: (t, id) => c.engine.enqueuer.put(t, id),
      log: silentLogger,
      name: "b",
      electionTtlMs: 1000,
    });
    const created: string[] = [];
    const sub = c.nc.subscribe("jetq.ev.task.cronq2.step.new", {
      callback: (_e, m) => {
        created.push(m.json<{ task_id: string }>().task_id);
      },
    });
    const leaderEvents: string[] = [];
    const elected = c.nc.subscribe("jetq.ev.leader.task-scheduler", {
      callback: (_e, m) => {
        leaderEvents.push(m.json<{ name: string }>().name);
      },
    });
    try {
      await a.start();
      await b.start();
      const s = await c.scheduledTasks();
      await s.create({
        name: "tick",
        schedule: "@every 300ms",
        queue: "cronq2",
        type: "tick",
        payload: 1,
        deadlineMs: 60_000,
      });
      await waitUntil(() => created.length >= 3, 10_000, "three ticks");
      assert.equal(a.count() + b.count(), 1, "one instance armed the schedule");
      const leader = a.count() === 1 ? a : b;
      await leader.stop(); // hands over at once
      const at = created.length;
      await waitUntil(() => created.length >= at + 3, 10_000, "ticks after failover");
      assert.deepEqual(leaderEvents.sort(), ["a", "b"], "a leader-elected event per win");
      await s.remove("tick");
      const ids = (
        await (async () => {
          const out: string[] = [];
          // No worker runs: the tasks wait in the queue (they have no record until they start).
          for (const t of await c.admin.peek("cronq2", 1000)) out.push(t.id);
          return out;
        })()
      ).sort();
      assert.equal(new Set(ids).size, ids.length);
      assert.ok(
        ids.every((id) => /^cron:tick:\d+$/.test(id)),
        ids.join(","),
      );
      const ticks = ids.map((id) => Number(id.split(":")[2])).sort((x, y) => x - y);
      assert.ok(
        ticks.every((t, i) => i === 0 || t - ticks[i - 1]! >= 300),
        "no tick twice",
      );
      const loaded = await c.loadTask(ids[0]!);
      assert.equal(loaded.deadline, Number(ids[0]!.split(":")[2]) + 60_000);
    } finally {
      sub.unsubscribe();
      elected.unsubscribe();
      await a.stop();
      await b.stop();
      await c.close();
    }
  });

  it("a monthly and a yearly cron created on Dec 1 create no task and arm for their next tick", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    // The scheduler's clock reads Dec 1 2026, 23:11 UTC (moving on in real time): the next monthly
    // tick is 31 days ahead, the yearly one 182 — both beyond what one Node timer can wait.
    const offset = Date.UTC(2026, 11, 1, 23, 11) - Date.now();
    const clock = () => Date.now() + offset;
    const c = await Client.connect({ servers: nats.server.url, queue: "cronq3", logger: silentLogger });
    const ts = new TaskScheduler({
      storage: c.storage,
      put: (t, id) => c.engine.enqueuer.put(t, id),
      log: silentLogger,
      name: "long",
      electionTtlMs: 1000,
      clock,
    });
    const created: string[] = [];
    const sub = c.nc.subscribe("jetq.ev.task.cronq3.*.new", {
      callback: (_e, m) => {
        created.push(m.json<{ task_id: string }>().task_id);
      },
    });
    const s = await c.scheduledTasks();
    try {
      await ts.start();
      await s.create({ name: "monthly", schedule: "0 0 9 1 * *", queue: "cronq3", type: "report" });
      await s.create({ name: "yearly", schedule: "0 0 9 1 6 *", queue: "cronq3", type: "report" });
      // A schedule that does tick: once its first task is in, a monthly timer turned into 1 ms
      // would have created hundreds (3,812 in 5 s before timers were clamped).
      await s.create({ name: "second", schedule: "* * * * * *", queue: "cronq3", type: "tick" });
      await waitUntil(() => created.some((id) => id.startsWith("cron:second:")), 10_000, "a tick of the marker");
      assert.deepEqual(
        created.filter((id) => !id.startsWith("cron:second:")),
        [],
      );
      assert.equal(ts.nextRun("monthly"), Date.UTC(2027, 0, 1, 9));
      assert.equal(ts.nextRun("yearly"), Date.UTC(2027, 5, 1, 9));
      assert.deepEqual(
        warnings.filter((w) => w.name === "TimeoutOverflowWarning").map((w) => w.message),
        [],
      );
    } finally {
      process.off("warning", onWarning);
      sub.unsubscribe();
      for (const name of ["monthly", "yearly", "second"]) await s.remove(name).catch(() => undefined);
      await ts.stop();
      await c.close();
    }
  });
});
