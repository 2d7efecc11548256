/**
 * Property-based fuzzing of the schedule inputs: the Gozo parser and the JSON schedule request.
 * Whatever comes in, the answer is a schedule that passes the target policy or a ValidationError.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headers as natsHeaders } from "@nats-io/nats-core";
import fc from "fast-check";
import { ValidationError } from "../../src/errors.js";
import { decodeSchedule, encodeSchedule, type Schedule } from "../../src/jobs/storage/schedule-codec.js";
import { buildSchedule, parseGozoMessage } from "../../src/scheduler/gozo-protocol.js";
import { viewSchedule } from "../../src/scheduler/schedule-commands.js";
import { scheduleSpecFromJson } from "../../src/scheduler/schedule-request.js";
import { TargetPolicy } from "../../src/scheduler/target-policy.js";
import { isTimeInRange } from "../../src/time-range.js";
import { fuzzParams, headerNames, noise, recurrenceValues, subjects, whenValues } from "./fuzz-support.js";

const policy = new TargetPolicy();
const limits = { maxFutureMs: 30 * 86_400_000, maxPayloadBytes: 4096, policy };
const now = Date.now();

/** What every accepted schedule must satisfy. */
function assertSafe(s: Schedule): void {
  assert.equal(policy.fireRefusal(s), undefined, `fires to ${JSON.stringify(s.target)}`);
  assert.ok(!s.target.startsWith("$") && !s.target.startsWith("jetq.") && s.target !== "gozo");
  assert.ok(isTimeInRange(s.due), `due ${s.due}`);
  assert.ok(s.due - now <= limits.maxFutureMs, `due ${s.due - now} ms ahead`);
  if (s.recurrence && "everyMs" in s.recurrence) assert.ok(s.recurrence.everyMs <= limits.maxFutureMs);
  for (const k of Object.keys(s.headers)) {
    const lower = k.toLowerCase();
    assert.ok(
      !lower.startsWith("nats-") || ["nats-msg-id", "nats-ttl"].includes(lower) || lower.startsWith("nats-expected-"),
      k,
    );
  }
  // What is accepted can be stored, read back and shown.
  const { headers, data } = encodeSchedule(s);
  assert.deepEqual(decodeSchedule(headers, data).target, s.target);
  viewSchedule(s);
}

function onlyValidationErrors(run: () => void): void {
  try {
    run();
  } catch (err) {
    if (err instanceof ValidationError) return;
    throw err;
  }
}

describe("fuzz: schedule inputs", () => {
  it("parseGozoMessage: a safe schedule, a cancel or a ValidationError, whatever the headers and reply", () => {
    const header = fc.tuple(headerNames, fc.oneof(whenValues, recurrenceValues, noise(30)));
    fc.assert(
      fc.property(
        fc.array(header, { maxLength: 12 }),
        fc.option(subjects),
        fc.uint8Array({ maxLength: 64 }),
        (hs, reply, data) => {
          const h = natsHeaders();
          try {
            for (const [k, v] of hs) h.append(k, v);
          } catch {
            return; // nats.js itself refuses such a header: it cannot arrive on the wire
          }
          onlyValidationErrors(() => {
            const cmd = parseGozoMessage({ headers: h, data, ...(reply === null ? {} : { reply }) }, now, limits);
            if (cmd.kind === "schedule") assertSafe(cmd.schedule);
            else assert.ok(!cmd.id.startsWith("jetq-task-"));
          });
        },
      ),
      fuzzParams(3000, 4000),
    );
  });

  it("scheduleSpecFromJson + buildSchedule: a safe schedule or a ValidationError, whatever the JSON", () => {
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof(fc.constant(undefined), a);
    const anyJson = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<unknown>;
    const headerMap = fc.dictionary(headerNames, fc.oneof(noise(20), fc.array(noise(10), { maxLength: 3 })), {
      maxKeys: 8,
    });
    // Mostly well-formed requests (so the policy and the limits are reached), and noise.
    const plausible = fc.record(
      {
        id: maybe(fc.oneof(noise(20), fc.constant("jetq-task-x"))),
        subject: subjects,
        when: maybe(whenValues),
        cron: maybe(recurrenceValues),
        tz: maybe(fc.constantFrom("Europe/Paris", "UTC", "Nope/Zone", "")),
        every: maybe(fc.oneof(recurrenceValues, fc.double(), fc.constantFrom(1e20, 10, 86_400_000))),
        payload: maybe(noise(30)),
        headers: maybe(headerMap),
      },
      { requiredKeys: ["subject"] },
    );
    const noisy = fc.dictionary(
      fc.constantFrom("id", "subject", "when", "cron", "tz", "every", "payload", "payload_b64", "headers", "x"),
      fc.oneof(anyJson, subjects, whenValues, recurrenceValues, headerMap),
      { maxKeys: 9 },
    );
    const body = fc.oneof(plausible, noisy, anyJson);
    fc.assert(
      fc.property(body, (b) => {
        onlyValidationErrors(() => assertSafe(buildSchedule(scheduleSpecFromJson(b), now, limits)));
      }),
      fuzzParams(3000, 4000),
    );
  });
});
