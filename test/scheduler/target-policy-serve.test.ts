/**
 * The reproductions of issue 12 (items 1, 2, 10 and 12) against a real `jetq serve`: nothing a
 * caller sends may make the scheduler publish into the NATS system namespaces or jetq's own
 * subjects; every face says why.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { newTask, Router, TaskState } from "../../src/index.js";
import { CONFIG_BUCKET, queueConfigKey, TASKS_STREAM } from "../../src/jobs/storage/layout.js";
import { encodeSchedule, SCHEDULES_STREAM } from "../../src/jobs/storage/schedule-codec.js";
import { connectNats } from "../../src/nats/connect.js";
import { SCHEDULE_API } from "../../src/scheduler/schedule-api.js";
import { collect } from "../support/collect.js";
import { useNatsServer, waitUntil } from "../support/nats.js";
import { type ServeProcess, startServe } from "../support/serve-process.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
let nc: NatsConnection;
let jsm: JetStreamManager;
let serve: ServeProcess;
let url: string;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

function gozo(h: Record<string, string>, reply?: string, data = "x"): void {
  const hs = headers();
  for (const [k, v] of Object.entries(h)) hs.set(k, v);
  nc.publish("gozo", data, { headers: hs, ...(reply ? { reply } : {}) });
}

async function apiAdd(body: unknown): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
  return (await nc.request(SCHEDULE_API.add, JSON.stringify(body), { timeout: 5000 })).json();
}

/**
 * Waits until the serve log holds `n` lines about dropped Gozo messages with `code` (the log is
 * rate-limited per code: one line per 10 s, then a count of the suppressed ones).
 */
async function droppedWith(code: string, n = 1): Promise<void> {
  const count = () =>
    serve
      .log()
      .split("\n")
      .filter((l) => l.includes("dropped a Gozo message") && l.includes(`"code":"${code}"`)).length;
  await waitUntil(() => count() >= n, 10_000, `${n} dropped Gozo message(s) with ${code}`);
}

/** Whether the server hands a subscriber a message whose reply subject is in `$JS.API`. */
async function deliversJsApiReplies(): Promise<boolean> {
  const probe = `policy.probe.${Date.now()}`;
  const got = collect(nc, probe);
  nc.publish(probe, "x", { reply: "$JS.API.INFO" });
  nc.publish(probe, "y", { reply: "policy.probe.reply" });
  // Messages of one connection arrive in order: once the second is in, the first is in or dropped.
  await waitUntil(() => got.got.some((g) => g.msg.string() === "y"), 5000, "the probe");
  got.sub.unsubscribe();
  return got.got.length === 2;
}

/** A marker schedule: once it fired, every schedule due before it has had its chance to fire. */
async function marker(): Promise<void> {
  const out = collect(nc, "policy.marker");
  gozo({ "Gozo-When": "+0.2" }, "policy.marker");
  await out.waitFor(1, 10_000);
  out.sub.unsubscribe();
}

before(async () => {
  await nats.ready;
  nc = await connectNats({ servers: nats.server.url });
  jsm = await jetstreamManager(nc);
  serve = await startServe(["-a", nats.server.url, "--allow-target", "$KV.OPEN.>"]);
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(serve.log())![1]!;
  nats.beforeStop(async () => {
    await serve.kill();
    await nc.close();
  });
});

describe("schedules may not publish where the caller must not (issue 12, item 1)", () => {
  it("Gozo: reply $JS.API.STREAM.DELETE.JETQ_TASKS with Gozo-When +0 is dropped with a reason; the task store stays", async () => {
    // Newer servers (2.14 does) drop client messages whose reply subject is in $JS.API before any
    // subscriber sees them; older ones (2.9) deliver them, and jetq must refuse them itself.
    const delivered = await deliversJsApiReplies();
    gozo({ "Gozo-When": "+0" }, `$JS.API.STREAM.DELETE.${TASKS_STREAM}`);
    gozo({ "Gozo-When": "+0" }, `$JS.API.STREAM.PURGE.${SCHEDULES_STREAM}`);
    if (delivered) await droppedWith("forbidden_subject");
    await marker();
    await jsm.streams.info(TASKS_STREAM); // throws when deleted
    await jsm.streams.info(SCHEDULES_STREAM);
    if (delivered)
      assert.match(serve.log(), /a schedule may not publish to \\"\$JS\.API\.STREAM\.DELETE\.JETQ_TASKS\\"/);
  });

  it("Gozo: NUL, ESC and DEL in the reply subject are refused", async () => {
    for (const bad of ["a\u0000b", "a\u001bb", "a\u007fb"]) gozo({ "Gozo-When": "+0" }, bad);
    await droppedWith("invalid_subject");
  });

  it("REST: $KV.JETQ_CONFIG.x with Nats-Rollup: all is refused with 400; every queue definition stays", async () => {
    const q = `pol${Date.now().toString(36)}`;
    assert.equal((await call("PUT", `/v1/queues/${q}`, {})).status, 201);
    const r = await call("POST", "/v1/schedules", {
      subject: `$KV.${CONFIG_BUCKET}.x`,
      when: "+0",
      headers: { "Nats-Rollup": "all" },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, "forbidden_subject");
    const rollup = await call("POST", "/v1/schedules", {
      subject: "orders.x",
      when: "+0",
      headers: { "Nats-Rollup": "all" },
    });
    assert.equal(rollup.status, 400);
    assert.equal(rollup.body.error, "forbidden_header");
    const del = await call("POST", "/v1/schedules", {
      subject: `$JS.API.STREAM.DELETE.KV_${CONFIG_BUCKET}`,
      when: "+0",
    });
    assert.equal(del.body.error, "forbidden_subject");
    await marker();
    const kv = await jsm.streams.getMessage(`KV_${CONFIG_BUCKET}`, {
      last_by_subj: `$KV.${CONFIG_BUCKET}.${queueConfigKey(q)}`,
    });
    assert.ok(kv, "the queue definition is still stored");
    assert.equal((await call("GET", `/v1/queues/${q}`)).status, 200);
  });

  it("request API: system and jetq subjects are answered with an error naming the reason", async () => {
    const cases: [unknown, string][] = [
      [{ subject: `$JS.API.STREAM.PURGE.${SCHEDULES_STREAM}`, when: "+0" }, "forbidden_subject"],
      [{ subject: "$SYS.REQ.SERVER.PING", when: "+0" }, "forbidden_subject"],
      [{ subject: "jetq.api.sched.add", when: "+0" }, "forbidden_subject"],
      [{ subject: "gozo", when: "+0" }, "forbidden_subject"],
      [{ subject: "a\u0000b", when: "+0" }, "invalid_subject"],
      [{ subject: "a.b", when: "+0", headers: { "Nats-Schedule": "@at 2030-01-01T00:00:00Z" } }, "forbidden_header"],
      [{ id: "jetq-task-x", subject: "a.b", when: "+0" }, "reserved_id"],
    ];
    for (const [body, code] of cases) {
      const r = await apiAdd(body);
      assert.equal(r.ok, false, JSON.stringify(body));
      assert.equal(r.error?.code, code, JSON.stringify(body));
      assert.ok((r.error?.message.length ?? 0) > 10);
    }
    await jsm.streams.info(SCHEDULES_STREAM);
  });

  it("--allow-target widens the allow-list: $KV.OPEN.> is accepted and fires", async () => {
    const out = collect(nc, "$KV.OPEN.k");
    const r = await call("POST", "/v1/schedules", { subject: "$KV.OPEN.k", when: "+0", payload: "opened" });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await out.waitFor(1);
    assert.equal(out.got[0]!.msg.string(), "opened");
    out.sub.unsubscribe();
  });

  it("at fire time: a schedule written to the stream directly is deleted unpublished; delayed tasks still fire", async () => {
    const {
      subject,
      headers: h,
      data,
    } = encodeSchedule({
      id: "sneaky",
      echoId: false,
      target: `$JS.API.STREAM.DELETE.${TASKS_STREAM}`,
      due: Date.now(),
      payload: new Uint8Array(),
      headers: {},
      createdAt: Date.now(),
    });
    const spy = collect(nc, `$JS.API.STREAM.DELETE.${TASKS_STREAM}`);
    const js = (await import("@nats-io/jetstream")).jetstream(nc);
    await js.publish(subject, data, { headers: h });
    await waitUntil(() => serve.log().includes("deleted a stored schedule the target policy refuses"), 10_000);
    await marker();
    assert.equal(spy.got.length, 0, "nothing was published to the JetStream API");
    spy.sub.unsubscribe();
    await jsm.streams.info(TASKS_STREAM);

    const q = `del${Date.now().toString(36)}`;
    await withWorker(
      nats.server.url,
      { name: q },
      new Router().handle("t", () => "ok"),
      async (c, outcome) => {
        const t = await c.enqueue(newTask("t", 1, { delayMs: 100 }));
        assert.equal((await outcome(t.id)).state, TaskState.Complete);
      },
    );
  });
});

describe("a finished signed task cannot be replayed through a schedule (issue 12, item 2)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jetq-replay-"));
    const { privateKey } = generateKeyPairSync("ed25519");
    await writeFile(
      join(dir, "seed"),
      privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32).toString("hex"),
    );
  });
  after(() => undefined);

  it("GET the completed task, POST it as a schedule to its work subject: refused, it never runs again", async () => {
    const q = `rep${Date.now().toString(36)}`;
    let runs = 0;
    const router = new Router().handle("pay", () => {
      runs++;
      return "paid";
    });
    await withWorker(
      nats.server.url,
      { name: q },
      router,
      async (c, outcome) => {
        const t = await c.enqueue(newTask("pay", { amount: 10 }));
        assert.match(t.signature ?? "", /^[0-9a-f]{128}$/);
        assert.equal((await outcome(t.id)).state, TaskState.Complete);
        const got = await call("GET", `/v1/tasks/${t.id}`);
        assert.equal(got.status, 200);
        const replay = { ...got.body.task, state: "new" };
        for (const id of [undefined, `jetq-task-${t.id}`]) {
          const r = await call("POST", "/v1/schedules", {
            ...(id ? { id } : {}),
            subject: `jetq.q.${q}.5.${t.id}`,
            when: "+0",
            payload: JSON.stringify(replay),
          });
          assert.equal(r.status, 400, JSON.stringify(r.body));
          assert.equal(r.body.error, "forbidden_subject");
        }
        const api = await apiAdd({ subject: `jetq.q.${q}.5.${t.id}`, when: "+0", payload: JSON.stringify(replay) });
        assert.equal(api.error?.code, "forbidden_subject");
        gozo({ "Gozo-When": "+0" }, `jetq.q.${q}.5.${t.id}`, JSON.stringify(replay));
        await marker();
        assert.equal(runs, 1);
      },
      { signingSeedFile: join(dir, "seed") },
    );
  });
});

describe("recurring schedules respect the max delay; listings survive bad stored schedules (issue 12, item 10)", () => {
  it("Gozo-Every 99999999999999999999, REST every 1e20 and a cron beyond the limit are refused", async () => {
    gozo({ "Gozo-Every": "99999999999999999999" }, "far.every");
    await droppedWith("invalid_every");
    const r = await call("POST", "/v1/schedules", { subject: "far.every", every: 1e20 });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, "invalid_every");
    const api = await apiAdd({ subject: "far.every", every: "99999999999999999999" });
    assert.equal(api.error?.code, "invalid_every");
  });

  it("a stored schedule that cannot be decoded or shown is left out of GET /v1/schedules and jetq.api.sched.list", async () => {
    const js = (await import("@nats-io/jetstream")).jetstream(nc);
    const later = Date.now() + 3_600_000;
    const bad = encodeSchedule({
      id: "bad-due",
      echoId: true,
      target: "far.away",
      due: 1e20,
      payload: new Uint8Array(),
      headers: {},
      createdAt: Date.now(),
    });
    bad.headers.set("Jetq-Sched-Every", "100000000000000000000");
    await js.publish(bad.subject, bad.data, { headers: bad.headers });
    const corrupt = headers();
    corrupt.set("Jetq-Sched-Id", "corrupt");
    await js.publish("jetq.sched.corrupt", new Uint8Array(), { headers: corrupt });
    const good = await call("POST", "/v1/schedules", {
      id: "good-one",
      subject: "far.good",
      when: String(later / 1000),
    });
    assert.equal(good.status, 201);
    const list = await call("GET", "/v1/schedules?limit=1000");
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const ids = (list.body.schedules as { id: string }[]).map((s) => s.id);
    assert.ok(ids.includes("good-one"));
    assert.ok(!ids.includes("bad-due") && !ids.includes("corrupt"));
    const api = (await nc.request(SCHEDULE_API.list, JSON.stringify({ limit: 1000 }), { timeout: 5000 })).json<{
      ok: boolean;
      schedules: { id: string }[];
    }>();
    assert.equal(api.ok, true);
    assert.ok(api.schedules.some((s) => s.id === "good-one"));
    assert.match(serve.log(), /left an unreadable stored schedule out of a listing/);
    await call("DELETE", "/v1/schedules/good-one");
  });
});

/** Publishes a message with a raw header block over the NATS protocol (nats.js would take seconds to build it). */
async function publishRaw(subject: string, reply: string, headerLines: string[], payload: string): Promise<void> {
  const hdr = `NATS/1.0\r\n${headerLines.map((l) => `${l}\r\n`).join("")}\r\n`;
  const hdrBytes = Buffer.byteLength(hdr);
  const total = hdrBytes + Buffer.byteLength(payload);
  const { port, hostname } = new URL(nats.server.url);
  const socket = createConnection({ host: hostname, port: Number(port) });
  await once(socket, "data"); // INFO
  socket.write(`CONNECT {"verbose":false,"headers":true,"no_responders":false}\r\n`);
  socket.write(`HPUB ${subject} ${reply} ${hdrBytes} ${total}\r\n${hdr}${payload}\r\nPING\r\n`);
  await once(socket, "data"); // PONG: the server has the message
  socket.destroy();
}

describe("a Gozo message with 10,000 headers (issue 12, item 12)", () => {
  it("is dropped before its headers are decoded, and the listener keeps serving", async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `X-${i}: v`);
    await publishRaw("gozo", "many.headers", ["Gozo-When: +0", ...many], "x");
    await droppedWith("headers_too_large");
    await publishRaw("gozo", "many.headers", ["Gozo-When: +0", ...many.slice(0, 150)], "x");
    await droppedWith("too_many_headers");
    await marker();
  });
});
