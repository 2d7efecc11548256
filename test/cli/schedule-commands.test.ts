import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { Client, newTask, silentLogger, TaskScheduler, TaskState } from "../../src/index.js";
import { connectNats } from "../../src/nats/connect.js";
import { SchedulerService } from "../../src/scheduler/scheduler-service.js";
import { uniq } from "../gateway/gateway-support.js";
import { jetq, jetqJson } from "../support/cli.js";
import { useNatsServer } from "../support/nats.js";
import { storageOn } from "../support/storage.js";

const nats = useNatsServer();
type Schedule = Record<string, unknown> & { id: string; kind: string; task_id?: string };

describe("jetq schedule … and jetq cron …", () => {
  let a: string[];
  let nc: NatsConnection;
  let scheduler: SchedulerService;
  let client: Client;
  let q: string;
  before(async () => {
    await nats.ready;
    a = ["-a", nats.server.url];
    nc = await connectNats({ servers: nats.server.url });
    scheduler = new SchedulerService({ storage: await storageOn(nc), log: silentLogger, name: `t-${randomUUID()}` });
    await scheduler.start();
    q = uniq();
    client = await Client.connect({ servers: nats.server.url, queue: q, logger: silentLogger });
  });
  after(async () => {
    await client.close();
    await scheduler.stop();
    await nc.close();
  });

  it("adds, gets and lists messages, with delayed tasks shown apart; cancels both kinds", async () => {
    const msg = await jetqJson<{ schedule: Schedule }>([
      "schedule",
      "add",
      "orders.remind",
      "+1h",
      '{"order": 42}',
      "--id",
      `remind-${q}`,
      "-H",
      "X-Trace=abc",
      ...a,
    ]);
    assert.equal(msg.schedule.kind, "message");
    assert.deepEqual(msg.schedule.headers, { "X-Trace": ["abc"] });
    const cron = await jetqJson<{ schedule: Schedule }>([
      "schedule",
      "add",
      "reports.daily",
      "--cron",
      "0 0 6 * * *",
      "--tz",
      "Europe/Paris",
      ...a,
    ]);
    assert.equal(cron.schedule.cron, "0 0 6 * * *");
    const delayed = await client.enqueue(newTask("later", { x: 1 }, { delayMs: 3_600_000 }));

    const got = await jetqJson<{ schedule: Schedule }>(["schedule", "get", `remind-${q}`, ...a]);
    assert.equal(got.schedule.payload, '{"order": 42}');
    const all = await jetqJson<{ schedules: Schedule[] }>(["schedule", "list", "--limit", "1000", ...a]);
    const task = all.schedules.find((s) => s.task_id === delayed.id);
    assert.equal(task?.kind, "delayed_task");
    const tasksOnly = await jetqJson<{ schedules: Schedule[] }>(["schedule", "list", "--kind", "tasks", ...a]);
    assert.ok(tasksOnly.schedules.every((s) => s.kind === "delayed_task"));
    const text = await jetq(["schedule", "list", ...a]);
    assert.match(text.stdout, /^Delayed tasks\nTASK\s+QUEUE\s+TYPE\s+DUE$/m);
    assert.match(text.stdout, new RegExp(`^${delayed.id}\\s+${q}\\s+later\\s+\\d{4}-`, "m"));
    assert.match(text.stdout, new RegExp(`^remind-${q}\\s+orders\\.remind\\s+\\S+ \\S+\\s+once$`, "m"));
    assert.match(text.stdout, /reports\.daily\s+\S+ \S+\s+cron 0 0 6 \* \* \* \(Europe\/Paris\)/);

    assert.deepEqual(await jetqJson(["schedule", "cancel", `remind-${q}`, ...a]), { id: `remind-${q}` });
    assert.equal((await jetq(["schedule", "get", `remind-${q}`, ...a])).code, 3);
    await jetqJson(["schedule", "cancel", task!.id, ...a]);
    assert.equal((await client.loadTask(delayed.id)).state, TaskState.Cancelled, "the delayed task is cancelled");
    assert.equal((await jetq(["schedule", "add", "x.y", "whenever", ...a])).code, 2);
  });

  it("adds, lists (with next runs), pauses, resumes and removes task schedules; a paused one creates no tasks", async () => {
    const added = await jetqJson<{ scheduled_task: Record<string, unknown> & { next_runs: string[] } }>([
      "cron",
      "add",
      `nightly-${q}`,
      "0 0 3 * * *",
      q,
      "digest",
      '{"full": true}',
      "--tz",
      "Europe/Paris",
      ...a,
    ]);
    assert.equal(added.scheduled_task.next_runs.length, 3);
    assert.match(added.scheduled_task.next_runs[0]!, /T0[12]:00:00\.000Z$/, "03:00 in Paris");
    const paused = await jetqJson<{ scheduled_task: { paused: boolean; next_runs: string[] } }>([
      "cron",
      "pause",
      `nightly-${q}`,
      ...a,
    ]);
    assert.deepEqual([paused.scheduled_task.paused, paused.scheduled_task.next_runs], [true, []]);
    const list = await jetq(["cron", "list", ...a]);
    assert.match(
      list.stdout,
      new RegExp(`^nightly-${q}\\s+0 0 3 \\* \\* \\*\\s+Europe/Paris\\s+${q}\\s+digest\\s+paused\\s*$`, "m"),
    );
    assert.equal(
      (await jetqJson<{ scheduled_task: { paused: boolean } }>(["cron", "resume", `nightly-${q}`, ...a])).scheduled_task
        .paused,
      false,
    );
    assert.deepEqual(await jetqJson(["cron", "remove", `nightly-${q}`, ...a]), { name: `nightly-${q}` });
    assert.equal((await jetq(["cron", "remove", `nightly-${q}`, ...a])).code, 3);
    assert.equal((await jetq(["cron", "add", "x", "every day", q, "t", ...a])).code, 2);

    // A running task scheduler honours the pause: the active schedule fires, the paused one does not.
    await jetqJson(["cron", "add", `on-${q}`, "@every 100ms", q, "tick", ...a]);
    await jetqJson(["cron", "add", `off-${q}`, "@every 100ms", q, "tock", ...a]);
    await jetqJson(["cron", "pause", `off-${q}`, ...a]);
    const ticker = new TaskScheduler({
      storage: client.storage,
      put: (t, id) => client.engine.enqueuer.put(t, id),
      log: silentLogger,
      name: `t-${randomUUID()}`,
    });
    const events = client.events({ queue: q });
    await ticker.start();
    try {
      let ticks = 0;
      for await (const e of events) {
        assert.equal(e.taskType, "tick", "the paused schedule created a task");
        if (e.state === TaskState.New && ++ticks === 3) break;
      }
    } finally {
      events.close();
      await ticker.stop();
    }
  });

  it("exits 5 when no scheduler answers the request API", async () => {
    await scheduler.stop();
    const r = await jetq(["schedule", "list", ...a]);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /no scheduler answers jetq\.api\.sched\.list.*\[scheduler_unavailable\]/);
  });
});
