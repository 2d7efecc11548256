import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { newTask } from "../../src/jobs/task.js";
import { silentLogger } from "../../src/logger.js";
import { connectNats } from "../../src/nats/connect.js";
import { SCHEDULE_API } from "../../src/scheduler/schedule-api.js";
import { SchedulerService } from "../../src/scheduler/scheduler-service.js";
import { testClient, uniqueQueue } from "../support/client.js";
import { collect } from "../support/collect.js";
import { useNatsServer, waitUntil } from "../support/nats.js";
import { storageOn } from "../support/storage.js";

const nats = useNatsServer();
let nc: NatsConnection;
let service: SchedulerService;

before(async () => {
  await nats.ready;
  nc = await connectNats({ servers: nats.server.url });
  service = new SchedulerService({ storage: await storageOn(nc), log: silentLogger });
  await service.start();
  assert.ok(service.isLeader);
  nats.beforeStop(async () => {
    await service.stop();
    await nc.close();
  });
});

function gozo(h: Record<string, string>, reply?: string, data: string | Uint8Array = "Hello Gozo!") {
  const hs = headers();
  for (const [k, v] of Object.entries(h)) hs.set(k, v);
  nc.publish("gozo", data, { headers: hs, ...(reply ? { reply } : {}) });
}

async function request(subject: string, body: unknown) {
  const m = await nc.request(subject, JSON.stringify(body), { timeout: 5000 });
  return m.json<{
    ok: boolean;
    error?: { code: string };
    schedule?: { id: string; due_ms: number };
    schedules?: { id: string }[];
  }>();
}

describe("Gozo README examples, unchanged", () => {
  it("absolute time: epoch seconds + Gozo-Id → payload and exactly the documented headers on the reply subject", async () => {
    const id = randomUUID();
    const out = collect(nc, "reply.subject");
    gozo({ "Gozo-When": String(Math.floor(Date.now() / 1000) + 1), "Gozo-Id": id }, "reply.subject");
    await out.waitFor(1);
    const m = out.got[0]!.msg;
    assert.equal(m.subject, "reply.subject");
    assert.equal(m.string(), "Hello Gozo!");
    assert.deepEqual(Object.fromEntries(m.headers!.keys().map((k) => [k, m.headers!.get(k)])), {
      "Gozo-Reply": "Yes",
      "Gozo-Id": id,
    });
    out.sub.unsubscribe();
  });

  it("relative time: +N seconds", async () => {
    const id = randomUUID();
    const out = collect(nc, "reply.relative");
    const t0 = Date.now();
    gozo({ "Gozo-When": "+1", "Gozo-Id": id }, "reply.relative");
    await out.waitFor(1);
    assert.ok(out.got[0]!.at - t0 >= 1000, "not before the due time");
    assert.equal(out.got[0]!.msg.headers?.get("Gozo-Id"), id);
    out.sub.unsubscribe();
  });

  it("cancel: Gozo-Del-Id removes the schedule; a later one still fires", async () => {
    const id = randomUUID();
    const out = collect(nc, "reply.cancel");
    gozo({ "Gozo-When": "+0.5", "Gozo-Id": id }, "reply.cancel", "cancelled");
    await waitUntil(async () => (await service.commands!.get(id).catch(() => undefined)) !== undefined);
    gozo({ "Gozo-Del-Id": id });
    await waitUntil(async () => (await service.commands!.get(id).catch(() => undefined)) === undefined);
    gozo({ "Gozo-When": "+0.8" }, "reply.cancel", "kept");
    await out.waitFor(1);
    assert.deepEqual(
      out.got.map((g) => g.msg.string()),
      ["kept"],
    );
    out.sub.unsubscribe();
  });
});

describe("scheduler semantics", () => {
  it("a new schedule with an existing id overwrites it", async () => {
    const id = randomUUID();
    const out = collect(nc, "reply.overwrite");
    gozo({ "Gozo-When": "+0.3", "Gozo-Id": id }, "reply.overwrite", "first");
    gozo({ "Gozo-When": "+0.6", "Gozo-Id": id }, "reply.overwrite", "second");
    gozo({ "Gozo-When": "+1.0" }, "reply.overwrite", "marker");
    await out.waitFor(2);
    assert.deepEqual(
      out.got.map((g) => g.msg.string()),
      ["second", "marker"],
    );
    out.sub.unsubscribe();
  });

  it("a past due time fires at once; fires have millisecond precision", async () => {
    const out = collect(nc, "reply.precise");
    const t0 = Date.now();
    gozo({ "Gozo-When": "1" }, "reply.precise", "past");
    gozo({ "Gozo-When": ((t0 + 400) / 1000).toFixed(3) }, "reply.precise", "ms");
    gozo({ "Gozo-When": "+250ms" }, "reply.precise", "unit");
    await out.waitFor(3);
    const at = Object.fromEntries(out.got.map((g) => [g.msg.string(), g.at - t0]));
    // Never early, and soon after: how soon is measured by bench/scheduler.ts (lateness p50/p99), not
    // here, where a loaded CI machine adds its own scheduling delays.
    assert.ok(at.past! < 1000, `past fired after ${at.past} ms`);
    assert.ok(at.unit! >= 250 && at.unit! < 1250, `+250ms fired after ${at.unit} ms`);
    assert.ok(at.ms! >= 400 && at.ms! < 1400, `+400ms fired after ${at.ms} ms`);
    assert.ok(at.unit! < at.ms!, "in due order");
    out.sub.unsubscribe();
  });

  it("passes other headers through and never echoes control headers", async () => {
    const out = collect(nc, "reply.headers");
    gozo({ "Gozo-When": "+0.1", "X-Trace-Id": "abc", traceparent: "00-1-2-01" }, "reply.headers");
    await out.waitFor(1);
    const h = out.got[0]!.msg.headers!;
    assert.deepEqual(h.keys().sort(), ["Gozo-Reply", "X-Trace-Id", "traceparent"]);
    assert.equal(h.get("X-Trace-Id"), "abc");
    out.sub.unsubscribe();
  });

  it("recurring: Gozo-Every fires repeatedly until cancelled; Gozo-Cron with seconds fires each tick", async () => {
    const every = collect(nc, "reply.every");
    const cron = collect(nc, "reply.cron");
    gozo({ "Gozo-Every": "150ms", "Gozo-Id": "every-1" }, "reply.every", "tick");
    gozo({ "Gozo-Cron": "* * * * * *", "Gozo-Cron-Tz": "Europe/Paris", "Gozo-Id": "cron-1" }, "reply.cron", "cron");
    await every.waitFor(3);
    await cron.waitFor(2, 5000);
    // Arrival times include the machine's scheduling delays (CI runs loaded): the bounds say "once
    // per interval, on a grid", not how punctual (that is bench/scheduler.ts's job).
    const gaps = every.got.slice(1).map((g, i) => g.at - every.got[i]!.at);
    assert.ok(
      gaps.every((g) => g > 100 && g < 1000),
      `intervals ${gaps}`,
    );
    const cronMs = cron.got.map((g) => g.at % 1000);
    assert.ok(
      cronMs.every((ms) => ms < 500),
      `cron fires at whole seconds (${cronMs})`,
    );
    gozo({ "Gozo-Del-Id": "every-1" });
    gozo({ "Gozo-Del-Id": "cron-1" });
    await waitUntil(async () => (await service.commands!.get("every-1").catch(() => undefined)) === undefined);
    await waitUntil(async () => (await service.commands!.get("cron-1").catch(() => undefined)) === undefined);
    every.sub.unsubscribe();
    cron.sub.unsubscribe();
  });

  it("a target that is a JetStream subject is stored once per fire (de-duplication id)", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "TARGET", subjects: ["target.>"] });
    gozo({ "Gozo-When": "+0.1", "Gozo-Id": "to-stream" }, "target.one", "stored");
    await waitUntil(async () => (await jsm.streams.info("TARGET")).state.messages === 1);
    const m = await jsm.streams.getMessage("TARGET", { seq: 1 });
    assert.equal(m?.string(), "stored");
    assert.equal(m?.header.get("Nats-Msg-Id").startsWith("to-stream:"), true);
  });

  it("drops bad Gozo messages with a reason and keeps serving", async () => {
    const refusedBefore = service["listener"]!.counts.refused;
    const bad: [Record<string, string>, string | undefined][] = [
      [{ "Gozo-When": "soon" }, "reply.bad"],
      [{ "Gozo-When": "+" }, "reply.bad"],
      [{ "Gozo-When": "-5" }, "reply.bad"],
      [{ "Gozo-When": "NaN" }, "reply.bad"],
      [{ "Gozo-When": "99999999999999999" }, "reply.bad"],
      [{ "Gozo-When": "+1" }, undefined],
      [{ "Gozo-Del-Id": "never-existed" }, undefined],
      [{ "Gozo-Cron": "x" }, "reply.bad"],
    ];
    for (const [h, reply] of bad) gozo(h, reply);
    gozo({ "Gozo-When": "x".repeat(10), "Gozo-Id": "y" }, "reply.bad");
    const out = collect(nc, "reply.good");
    gozo({ "Gozo-When": "+0.1" }, "reply.good", "still works");
    await out.waitFor(1);
    await waitUntil(() => service["listener"]!.counts.refused - refusedBefore === bad.length + 1);
    out.sub.unsubscribe();
  });
});

describe("schedules beyond 2^31-1 ms (the longest a Node timer waits)", () => {
  it("a delayed message +40d and a delayed task for 2027-01-01 wait without waking the scheduler", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const c = await testClient(nats.server.url, uniqueQueue());
    const day = 86_400_000;
    // The README's example date, or 40 days ahead once that is near.
    const runAt = Math.max(Date.UTC(2027, 0, 1), Date.now() + 40 * day);
    let taskId = "";
    try {
      const wakeupsBefore = service.stats()!.wakeups;
      gozo({ "Gozo-When": "+40d", "Gozo-Id": "far-message" }, "reply.far", "far");
      taskId = (await c.enqueue(newTask("t", {}, { runAt: new Date(runAt) }))).id;
      await waitUntil(async () => (await service.commands!.get("far-message").catch(() => undefined)) !== undefined);
      const far = await service.commands!.get(`jetq-task-${taskId}`);
      assert.equal(far.due_ms, runAt);
      // A marker due soon: by the time it fired, a far timer turned into 1 ms by Node would have
      // woken the scheduler hundreds of times (about 850 per second before timers were clamped).
      const out = collect(nc, "reply.near");
      gozo({ "Gozo-When": "+300ms" }, "reply.near", "near");
      await out.waitFor(1);
      out.sub.unsubscribe();
      const wakeups = service.stats()!.wakeups - wakeupsBefore;
      assert.ok(wakeups <= 3, `${wakeups} wake-ups while waiting for one schedule`);
      assert.deepEqual(
        warnings.filter((w) => w.name === "TimeoutOverflowWarning").map((w) => w.message),
        [],
      );
      assert.equal(service.stats()!.pending >= 2, true, "both far schedules still pending");
    } finally {
      process.off("warning", onWarning);
      gozo({ "Gozo-Del-Id": "far-message" });
      if (taskId) await c.cancelTask(taskId);
      await waitUntil(async () => (await service.commands!.get("far-message").catch(() => undefined)) === undefined);
      await c.close();
    }
  });
});

describe("restart", () => {
  it("a scheduler whose stream is empty after every schedule fired starts at once", async () => {
    const out = collect(nc, "reply.emptied");
    gozo({ "Gozo-When": "+50ms" }, "reply.emptied", "only");
    await out.waitFor(1);
    out.sub.unsubscribe();
    // Every other test's schedules have fired or been cancelled by now; wait for the deletes.
    await waitUntil(
      async () => (await jetstreamManager(nc).then((j) => j.streams.info("JETQ_SCHEDULES"))).state.messages === 0,
    );
    const other = new SchedulerService({ storage: await storageOn(nc), log: silentLogger, name: "second" });
    await service.stop();
    await other.start();
    assert.equal(other.isLeader, true);
    assert.equal(other.stats()?.ready, true);
    await other.stop();
    service = new SchedulerService({ storage: await storageOn(nc), log: silentLogger });
    await service.start();
  });
});

describe("request API", () => {
  it("adds, gets, lists and cancels with acknowledgements and clear errors", async () => {
    const added = await request(SCHEDULE_API.add, { id: "api-1", subject: "reply.api", when: "+1h", payload: "p" });
    assert.equal(added.ok, true);
    assert.equal(added.schedule?.id, "api-1");
    assert.ok(Math.abs(added.schedule!.due_ms - (Date.now() + 3_600_000)) < 5000);
    const got = await request(SCHEDULE_API.get, { id: "api-1" });
    assert.equal(got.schedule?.id, "api-1");
    const list = await request(SCHEDULE_API.list, { limit: 1000 });
    assert.ok(list.schedules?.some((s) => s.id === "api-1"));
    assert.equal((await request(SCHEDULE_API.cancel, { id: "api-1" })).ok, true);
    assert.equal((await request(SCHEDULE_API.get, { id: "api-1" })).error?.code, "schedule_not_found");
    assert.equal((await request(SCHEDULE_API.cancel, { id: "api-1" })).error?.code, "schedule_not_found");
    assert.equal((await request(SCHEDULE_API.add, { subject: "r", when: "later" })).error?.code, "invalid_when");
    assert.equal((await request(SCHEDULE_API.add, { when: "+1" })).error?.code, "invalid_request");
    assert.equal((await request(SCHEDULE_API.add, { subject: "a.>", when: "+1" })).error?.code, "invalid_subject");
    assert.equal((await request(SCHEDULE_API.list, { limit: -1 })).error?.code, "invalid_request");
    const raw = await nc.request(SCHEDULE_API.add, "{nope", { timeout: 5000 });
    assert.equal(raw.json<{ error: { code: string } }>().error.code, "invalid_json");
  });

  it("an API schedule fires with its payload and headers", async () => {
    const out = collect(nc, "reply.api2");
    const r = await request(SCHEDULE_API.add, {
      subject: "reply.api2",
      when: "+100ms",
      payload_b64: Buffer.from([1, 2, 3]).toString("base64"),
      headers: { "X-A": "1" },
    });
    assert.equal(r.ok, true);
    await out.waitFor(1);
    assert.deepEqual([...out.got[0]!.msg.data], [1, 2, 3]);
    assert.equal(out.got[0]!.msg.headers?.get("X-A"), "1");
    out.sub.unsubscribe();
  });
});
