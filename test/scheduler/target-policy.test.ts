import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, ValidationError } from "../../src/errors.js";
import { buildSchedule } from "../../src/scheduler/gozo-protocol.js";
import { ALLOWED_NATS_HEADERS, TargetPolicy } from "../../src/scheduler/target-policy.js";

const code = (c: string) => (e: unknown) => e instanceof ValidationError && e.code === c;
const now = 1_700_000_000_000;

describe("target policy", () => {
  const policy = new TargetPolicy({ gozoSubject: "sched.in" });

  it("refuses the NATS system namespaces, jetq's own subjects and the Gozo subject", () => {
    for (const s of [
      "$JS.API.STREAM.DELETE.JETQ_TASKS",
      "$JS.API.STREAM.PURGE.JETQ_SCHEDULES",
      "$JS.API.CONSUMER.DELETE.JETQ_Q_a.WORKERS_P5",
      "$JS.ACK.x.y",
      "$KV.JETQ_CONFIG.x",
      "$O.bucket.C.x",
      "$SYS.REQ.SERVER.PING",
      "$JSC.R.x",
      "$SRV.PING",
      "$G",
      "$MQTT.sess.x",
      "jetq.q.emails.5.01JB6Y4Q3K9V2W8X7Z5N0M1P2R",
      "jetq.task.x",
      "jetq.sched.x",
      "jetq.api.sched.add",
      "sched.in",
    ])
      assert.throws(() => policy.checkTarget(s), code("forbidden_subject"), s);
  });

  it("accepts ordinary subjects and inbox replies", () => {
    for (const s of ["orders.remind", "_INBOX.abc.def", "JETQ.not.ours", "jetqx.y", "gozo", "sched.in.more", "ü.ok"])
      assert.equal(policy.checkTarget(s), s);
  });

  it("refuses wildcards, white space, empty tokens and every control character (C0, DEL, C1)", () => {
    const bad = ["a.*", "a.>", ">", "a*b", "a b", "a\tb", "a.", ".a", "a..b", "", "a\u00a0b", "a\u2028b"];
    for (let c = 0; c < 0x20; c++) bad.push(`a${String.fromCharCode(c)}b`);
    bad.push("a\u007fb", "a\u0080b", "a\u0085b", "a\u009fb", "x".repeat(1025));
    for (const s of bad) assert.throws(() => policy.checkTarget(s), code("invalid_subject"), JSON.stringify(s));
    assert.throws(() => policy.checkTarget(42), code("invalid_subject"));
  });

  it("lets an operator widen the allow-list with patterns", () => {
    const wide = new TargetPolicy({ allowTargets: ["$KV.OPEN.>", "jetq.custom.*", "gozo"] });
    assert.equal(wide.checkTarget("$KV.OPEN.a.b"), "$KV.OPEN.a.b");
    assert.equal(wide.checkTarget("jetq.custom.x"), "jetq.custom.x");
    assert.equal(wide.checkTarget("gozo"), "gozo");
    assert.throws(() => wide.checkTarget("$KV.OPEN"), code("forbidden_subject"), "> needs a token");
    assert.throws(() => wide.checkTarget("jetq.custom.x.y"), code("forbidden_subject"));
    assert.throws(() => wide.checkTarget("$KV.JETQ_CONFIG.x"), code("forbidden_subject"));
    assert.throws(() => wide.checkTarget("$KV.OPEN.a\u0000"), code("invalid_subject"), "syntax still applies");
    for (const p of ["a.>.b", "a..b", "", "a b", "a*"])
      assert.throws(
        () => new TargetPolicy({ allowTargets: [p] }),
        (e: unknown) => e instanceof ConfigError && e.code === "invalid_allow_target",
        p,
      );
  });

  it("keeps the Nats- headers a delayed message needs and refuses the others", () => {
    const ok = { "Nats-Msg-Id": ["m1"], "nats-ttl": ["5s"], "Nats-Expected-Last-Subject-Sequence": ["3"], X: ["a\tb"] };
    assert.deepEqual(policy.checkHeaders(ok), ok);
    assert.ok(ALLOWED_NATS_HEADERS.has("nats-expected-stream"));
    for (const h of [
      "Nats-Rollup",
      "nats-rollup",
      "Nats-Schedule",
      "Nats-Schedule-Target",
      "Nats-Batch-Id",
      "Nats-Batch-Commit",
      "Nats-Incr",
      "Nats-Required-Api-Level",
      "Nats-Marker-Reason",
    ])
      assert.throws(() => policy.checkHeaders({ [h]: ["all"] }), code("forbidden_header"), h);
    assert.throws(() => policy.checkHeaders({ "a b": ["x"] }), code("invalid_header"));
    assert.throws(() => policy.checkHeaders({ X: ["a\u0000"] }), code("invalid_header"));
    assert.throws(() => policy.checkHeaders({ X: ["a\u0085"] }), code("invalid_header"));
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`X-${i}`, ["v"]]));
    assert.throws(() => policy.checkHeaders(many), code("too_many_headers"));
    assert.throws(() => policy.checkHeaders({ X: ["v".repeat(5000)] }), code("headers_too_large"));
    const proto = JSON.parse('{"__proto__": ["x"]}') as Record<string, string[]>;
    assert.deepEqual(Object.keys(policy.checkHeaders(proto)), ["__proto__"], "__proto__ is a header like others");
  });

  it("reserves delayed-task schedule ids", () => {
    assert.throws(() => policy.checkId("jetq-task-01JB"), code("reserved_id"));
    assert.equal(policy.checkId("jetq-other"), "jetq-other");
  });

  it("at fire time allows a jetq work subject only to the schedule of that very delayed task", () => {
    const id = "01JB6Y4Q3K9V2W8X7Z5N0M1P2R";
    const fire = (sid: string, target: string) => policy.fireRefusal({ id: sid, target, headers: {} });
    assert.equal(fire(`jetq-task-${id}`, `jetq.q.emails.5.${id}`), undefined);
    assert.equal(fire(`jetq-task-${id}`, `jetq.q.emails.0.${id}`), undefined);
    assert.equal(fire(`jetq-task-${id}`, `jetq.q.emails.5.OTHER`)?.code, "forbidden_subject");
    assert.equal(fire(`jetq-task-${id}`, `jetq.task.${id}`)?.code, "forbidden_subject");
    assert.equal(fire(`jetq-task-${id}`, `$JS.API.STREAM.DELETE.${id}`)?.code, "forbidden_subject");
    assert.equal(fire(`mine-${id}`, `jetq.q.emails.5.${id}`)?.code, "forbidden_subject");
    assert.equal(fire("x", "a\u001bb")?.code, "invalid_subject");
    assert.equal(
      policy.fireRefusal({ id: "x", target: "a.b", headers: { "Nats-Rollup": ["all"] } })?.code,
      "forbidden_header",
    );
    assert.equal(fire("x", "orders.remind"), undefined);
  });

  it("is applied by buildSchedule to every request", () => {
    const limits = { maxFutureMs: 86_400_000, maxPayloadBytes: 1000, policy };
    const spec = { target: "$KV.JETQ_CONFIG.x", when: "+0", payload: new Uint8Array(), headers: {} };
    assert.throws(() => buildSchedule(spec, now, limits), code("forbidden_subject"));
    assert.throws(
      () => buildSchedule({ ...spec, target: "a.b", headers: { "Nats-Rollup": ["all"] } }, now, limits),
      code("forbidden_header"),
    );
    assert.throws(() => buildSchedule({ ...spec, target: "a.b", id: "jetq-task-x" }, now, limits), code("reserved_id"));
    assert.throws(() => buildSchedule({ ...spec, target: "a.b", id: "a\r\nb" }, now, limits), code("invalid_id"));
  });
});

describe("recurring schedules and the max delay", () => {
  const limits = { maxFutureMs: 30 * 86_400_000, maxPayloadBytes: 1000, policy: new TargetPolicy() };
  const base = { target: "a.b", payload: new Uint8Array() };

  it("refuses an interval longer than the max delay", () => {
    for (const every of ["99999999999999999999", 1e20, "31d", 31 * 86_400_000])
      assert.throws(() => buildSchedule({ ...base, every }, now, limits), code("invalid_every"), String(every));
    assert.equal(buildSchedule({ ...base, every: "30d" }, now, limits).due, now + 30 * 86_400_000);
  });

  it("refuses a cron whose next run lies beyond the max delay or beyond year 9999", () => {
    // Yearly on Jan 1st, 00:00 UTC: from mid-November 2023 the next run is ~47 days ahead.
    assert.throws(() => buildSchedule({ ...base, cron: "0 0 0 1 1 *" }, now, limits), code("invalid_cron"));
    const far = { ...limits, maxFutureMs: 1e15 };
    assert.throws(() => buildSchedule({ ...base, cron: "0 0 0 1 1 *", when: "+1" }, now, limits), code("invalid_cron"));
    assert.ok(buildSchedule({ ...base, cron: "0 0 0 1 1 *" }, now, far).due > now);
    assert.throws(() => buildSchedule({ ...base, cron: "* * * * *\u0000" }, now, limits), code("invalid_cron"));
  });

  it("bounds due times to 1970 through year 9999", () => {
    const far = { ...limits, maxFutureMs: 1e16 };
    assert.throws(() => buildSchedule({ ...base, when: "+9999999999d" }, now, far), code("invalid_when"));
    assert.throws(() => buildSchedule({ ...base, when: "0001-01-01T00:00:00Z" }, now, far), code("invalid_when"));
    assert.equal(
      buildSchedule({ ...base, when: "9999-12-31T23:59:59Z" }, now, far).due,
      Date.parse("9999-12-31T23:59:59Z"),
    );
  });
});
