import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Schedule } from "../../src/jobs/storage/schedule-codec.js";
import type { ScheduleStore } from "../../src/jobs/storage/schedule-store.js";
import { connectNats } from "../../src/nats/connect.js";
import { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { Scheduler } from "../../src/scheduler/scheduler.js";
import { SchedulerService } from "../../src/scheduler/scheduler-service.js";
import { collect } from "../support/collect.js";
import { memoryLogger } from "../support/memory-logger.js";
import { waitUntil } from "../support/nats.js";
import { startServe } from "../support/serve-process.js";
import { storageOn } from "../support/storage.js";

/**
 * Two users: `admin` may do anything; `leader`, while `blocked`, may not record a fire — neither
 * delete a schedule's message nor store the next occurrence of a recurring one. A scheduler
 * connected as `leader` then sits in the window between publishing a fire and recording it, for as
 * long as the test wants.
 */
function authorization(blocked: boolean): string {
  const deny = blocked
    ? `, permissions: { publish: { deny: ["$JS.API.STREAM.MSG.DELETE.JETQ_SCHEDULES", "jetq.sched.>"] } }`
    : "";
  return `authorization { users = [ { user: "admin", password: "admin" }, { user: "leader", password: "leader"${deny} } ] }`;
}

const server = new NatsServerLauncher({ extraConfig: authorization(true) });
let admin: NatsConnection;
let store: ScheduleStore;
before(async () => {
  await server.start();
  admin = await connectNats({ servers: server.url, user: "admin", password: "admin" });
  store = await (await storageOn(admin)).schedules();
});
after(async () => {
  await admin.close();
  await server.stop();
});

/** A schedule due at `due` (a recurring one every `everyMs`, on a grid through `due`). */
function schedule(id: string, target: string, due: number, everyMs?: number): Schedule {
  return {
    id,
    echoId: true,
    target,
    due,
    payload: new TextEncoder().encode(id),
    headers: {},
    createdAt: everyMs ? due - everyMs : due,
    ...(everyMs ? { recurrence: { everyMs } } : {}),
  };
}

const bodies = (got: { msg: { string(): string } }[]) => got.map((g) => g.msg.string()).sort();

describe("recording fires", () => {
  it("a fire whose record cannot be stored yet is retried until it is: nothing fires twice, a recurring schedule goes on", async () => {
    await server.reload(authorization(true));
    const log = memoryLogger();
    const leaderNc = await connectNats({ servers: server.url, user: "leader", password: "leader" });
    const service = new SchedulerService({ storage: await storageOn(leaderNc), log, name: "in-process" });
    const out = collect(admin, "record.out");
    try {
      await service.start();
      assert.ok(service.isLeader);
      const due = Date.now() + 300;
      await store.save(schedule("once", "record.out", due));
      await store.save(schedule("every", "record.out", due, 1000));
      await store.save(schedule("replaced", "record.out", due, 1000));
      await out.waitFor(3);
      // Fired, and not recorded: the leader may neither delete nor store in JETQ_SCHEDULES.
      assert.ok(await store.get("once"), "the one-shot is still stored");
      assert.equal((await store.get("every"))?.due, due);
      // Replaced by its owner while its record is pending: the replacement must survive the record.
      const replacement = { ...schedule("replaced", "record.out", due + 3_600_000), payload: new Uint8Array([1]) };
      await store.save(replacement);
      await server.reload(authorization(false));
      await waitUntil(async () => (await store.get("once")) === undefined, 30_000, "the one-shot's delete");
      await waitUntil(async () => ((await store.get("every"))?.due ?? 0) > due, 30_000, "the next occurrence stored");
      await out.waitFor(4, 30_000);
      const again = out.got[3]!;
      assert.equal(again.msg.string(), "every");
      assert.ok(again.at >= due + 1000, "the fourth fire is the next occurrence, not a repeat");
      await waitUntil(() => log.lines.some((l) => l.includes("replaced meanwhile")), 30_000, "the replaced record");
      const kept = await store.get("replaced");
      assert.equal(kept?.due, replacement.due);
      assert.deepEqual([...(kept?.payload ?? [])], [1]);
      assert.deepEqual(bodies(out.got.slice(0, 3)), ["every", "once", "replaced"], log.lines.join("\n"));
    } finally {
      out.sub.unsubscribe();
      for (const id of ["every", "replaced"]) await store.cancel(id).catch(() => undefined);
      await service.stop();
      await leaderNc.close();
    }
  });

  it("firing pauses while maxUnrecorded fires wait for their record: a crash could repeat no more", async () => {
    await server.reload(authorization(true));
    const log = memoryLogger();
    const leaderNc = await connectNats({ servers: server.url, user: "leader", password: "leader" });
    const leaderStore = await (await storageOn(leaderNc)).schedules();
    const scheduler = new Scheduler({ store: leaderStore, log, maxUnrecorded: 5 });
    const out = collect(admin, "burst.out");
    const ids = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    try {
      const due = Date.now() - 1000; // overdue, as after downtime
      for (const id of ids) await store.save(schedule(id, "burst.out", due));
      await scheduler.start();
      await out.waitFor(5);
      // Records cannot be stored: nothing more may fire until one is.
      assert.equal(scheduler.stats().fired, 5);
      assert.equal(scheduler.stats().unrecorded, 5);
      assert.equal(scheduler.stats().pending, 15);
      await server.reload(authorization(false));
      await out.waitFor(20, 30_000);
      await waitUntil(() => scheduler.stats().unrecorded === 0, 30_000, "every record stored");
      assert.deepEqual(
        (await store.list(100)).schedules.filter((x) => x.id.startsWith("burst-")),
        [],
      );
      assert.deepEqual(bodies(out.got), [...ids].sort(), log.lines.join("\n"));
    } finally {
      out.sub.unsubscribe();
      await scheduler.stop();
      await leaderNc.close();
    }
  });

  it("a leader SIGKILLed between firing and recording: the next leader fires again — a stream stores it once, a core subscriber gets it twice", async () => {
    await server.reload(authorization(true));
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: "WINDOW", subjects: ["window.stream.>"] });
    const core = collect(admin, "window.core");
    const a = await startServe(["-a", server.url, "-u", "leader", "-p", "leader"]);
    let b: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      await waitUntil(() => a.log().includes("scheduler ready"), 20_000, "a leading");
      const due = Date.now() + 300;
      await store.save(schedule("once-core", "window.core", due));
      await store.save(schedule("once-stream", "window.stream.once", due));
      await store.save(schedule("every-stream", "window.stream.every", due, 3_600_000));
      await core.waitFor(1);
      await waitUntil(async () => (await jsm.streams.info("WINDOW")).state.messages === 2, 10_000, "both stream fires");
      // Inside the window: every fire is out, none is recorded.
      for (const id of ["once-core", "once-stream"]) assert.ok(await store.get(id), `${id} still stored`);
      assert.equal((await store.get("every-stream"))?.due, due);
      await a.kill();

      b = await startServe(["-a", server.url, "-u", "admin", "-p", "admin"]);
      await waitUntil(
        async () =>
          (await store.get("once-core")) === undefined &&
          (await store.get("once-stream")) === undefined &&
          (await store.get("every-stream"))?.due === due + 3_600_000,
        30_000,
        "the new leader fired and recorded everything",
      );
      // Recorded only after firing: each was fired again. A marker due after them settles the count.
      await store.save(schedule("marker", "window.core", Date.now() + 200));
      await core.waitFor(3);
      assert.deepEqual(bodies(core.got), ["marker", "once-core", "once-core"]);
      const info = await jsm.streams.info("WINDOW", { subjects_filter: ">" });
      assert.deepEqual(info.state.subjects, { "window.stream.once": 1, "window.stream.every": 1 });
      const m = await jsm.streams.getMessage("WINDOW", { last_by_subj: "window.stream.every" });
      assert.equal(m?.header.get("Nats-Msg-Id"), `every-stream:${due}`);
    } finally {
      core.sub.unsubscribe();
      await a.kill();
      await b?.kill();
      await store.cancel("every-stream").catch(() => undefined);
    }
  });
});
