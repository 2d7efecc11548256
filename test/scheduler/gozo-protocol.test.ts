import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headers } from "@nats-io/nats-core";
import { ValidationError } from "../../src/errors.js";
import { scheduleKey, scheduleSubject } from "../../src/jobs/storage/schedule-codec.js";
import { nextOccurrence } from "../../src/recurrence.js";
import { firedHeaders, parseGozoMessage } from "../../src/scheduler/gozo-protocol.js";
import { TargetPolicy } from "../../src/scheduler/target-policy.js";

const limits = { maxFutureMs: 365 * 86_400_000, maxPayloadBytes: 1000, policy: new TargetPolicy() };
const now = 1_700_000_000_000;

function msg(h: Record<string, string>, reply?: string, data = "hi") {
  const hs = headers();
  for (const [k, v] of Object.entries(h)) hs.set(k, v);
  return { headers: hs, data: Buffer.from(data), ...(reply ? { reply } : {}) };
}

describe("Gozo protocol", () => {
  it("parses a schedule, keeps pass-through headers and drops control headers", () => {
    const cmd = parseGozoMessage(
      msg({ "Gozo-When": "+10", "Gozo-Id": "abc", "X-Trace": "t1" }, "reply.subject"),
      now,
      limits,
    );
    assert.equal(cmd.kind, "schedule");
    if (cmd.kind !== "schedule") return;
    assert.equal(cmd.schedule.due, now + 10_000);
    assert.equal(cmd.schedule.target, "reply.subject");
    assert.deepEqual(cmd.schedule.headers, { "X-Trace": ["t1"] });
    const out = firedHeaders(cmd.schedule);
    assert.deepEqual(out.keys().sort(), ["Gozo-Id", "Gozo-Reply", "X-Trace"]);
    assert.equal(out.get("Gozo-Reply"), "Yes");
    assert.equal(out.get("Gozo-Id"), "abc");
  });

  it("does not echo Gozo-Id when the sender gave none", () => {
    const cmd = parseGozoMessage(msg({ "Gozo-When": "+1" }, "r"), now, limits);
    assert.ok(cmd.kind === "schedule" && !firedHeaders(cmd.schedule).has("Gozo-Id"));
  });

  it("parses a cancel", () => {
    assert.deepEqual(parseGozoMessage(msg({ "Gozo-Del-Id": "abc" }), now, limits), { kind: "cancel", id: "abc" });
  });

  it("refuses a missing reply subject, an oversize payload, bad recurrences", () => {
    const cases: [Record<string, string>, string | undefined, string, string][] = [
      [{ "Gozo-When": "+1" }, undefined, "hi", "missing_reply"],
      [{ "Gozo-When": "+1" }, "r", "x".repeat(2000), "payload_too_large"],
      [{}, "r", "hi", "missing_when"],
      [{ "Gozo-Cron": "not cron" }, "r", "hi", "invalid_cron"],
      [{ "Gozo-Cron": "* * * * * *", "Gozo-Cron-Tz": "Nope/Zone" }, "r", "hi", "invalid_timezone"],
      [{ "Gozo-Every": "0ms" }, "r", "hi", "invalid_every"],
      [{ "Gozo-Every": "fast" }, "r", "hi", "invalid_every"],
      [{ "Gozo-When": "+1" }, "bad subject", "hi", "invalid_subject"],
      [{ "Gozo-When": "+1" }, "wild.*", "hi", "invalid_subject"],
    ];
    for (const [h, reply, data, code] of cases) {
      assert.throws(
        () => parseGozoMessage(msg(h, reply, data), now, limits),
        (e: unknown) => e instanceof ValidationError && e.code === code,
        code,
      );
    }
  });

  it("computes recurring due times", () => {
    const cmd = parseGozoMessage(msg({ "Gozo-Every": "5m" }, "r"), now, limits);
    assert.ok(cmd.kind === "schedule");
    if (cmd.kind !== "schedule") return;
    assert.equal(cmd.schedule.due, now + 300_000);
    assert.equal(nextOccurrence({ everyMs: 1000 }, now + 2500, now), now + 3000);
    const sec = nextOccurrence({ cron: "*/10 * * * * *", tz: "Europe/Paris" }, Date.parse("2026-01-01T00:00:01Z"), 0);
    assert.equal(sec, Date.parse("2026-01-01T00:00:10Z"));
  });

  it("keys ids so they can never widen a subject", () => {
    assert.equal(scheduleKey("c8d816dd-578b-47ff"), "c8d816dd-578b-47ff");
    for (const id of ["a.b", "*", ">", "a b", "ü"]) {
      const subj = scheduleSubject(id);
      assert.equal(subj.split(".").length, 3, subj);
      assert.doesNotMatch(subj.slice("jetq.sched.".length), /[.*> ]/);
    }
    assert.notEqual(scheduleKey("a.b"), scheduleKey("a_b"));
  });
});
