/**
 * Property-based fuzzing of every HTTP route of a real gateway on a real nats-server: emq routes,
 * the /v1 REST API, queue controls and dead letters. Whatever the method, path, query and body:
 * never a 5xx, never a stored schedule the target policy refuses, and the service still answers.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import fc from "fast-check";
import { newTask } from "../../src/index.js";
import { TargetPolicy } from "../../src/scheduler/target-policy.js";
import { startGateway, type TestGateway } from "../gateway/gateway-support.js";
import { useNatsServer } from "../support/nats.js";
import { storageOn } from "../support/storage.js";
import { fuzzParams, headerNames, noise, recurrenceValues, subjects, whenValues } from "./fuzz-support.js";

const nats = useNatsServer();
let g: TestGateway;
const QUEUE = "fuzzq";
let taskId = "";

before(async () => {
  await nats.ready;
  g = await startGateway(nats.server, { limits: { waitTimeoutMs: 200, bodyBytes: 64 * 1024 } });
  nats.beforeStop(() => g.close());
  const c = await g.client({ name: QUEUE });
  taskId = (await c.enqueue(newTask("emq", { hello: 1 }))).id;
});

/** Path segments: real names and ids, hostile ones, percent-encoded noise. */
const segment = fc.oneof(
  fc.constantFrom(
    QUEUE,
    "other",
    "a.b",
    "*",
    ">",
    "..",
    "%2e%2e",
    "%ZZ",
    "%00",
    "x%2Fy",
    "jetq-task-x",
    "01JB6Y4Q3K9V2W8X7Z5N0M1P2R",
  ),
  fc.constant("TASK_ID"),
  noise(20).map((s) => encodeURIComponent(s)),
);

const num = fc.oneof(
  {
    arbitrary: fc.constantFrom(0, -1, 1, 100, 1000, 1e21, -9e15, 9007199254740991, 2 ** 31, 1.5, 1e300, -1e300),
    weight: 3,
  },
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const anyValue = fc.oneof(num, noise(10), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }));
/** Values for a body field: plausible ones for its name, and anything. */
const valueFor: Record<string, fc.Arbitrary<unknown>> = {
  content: fc.jsonValue({ maxDepth: 3 }),
  queues: fc.array(segment, { maxLength: 5 }),
  ids: fc.array(fc.oneof(segment, fc.constant("TASK_ID")), { maxLength: 4 }),
  type: fc.constantFrom("emq", "t", "a:b", "", "a.b"),
  payload: fc.jsonValue({ maxDepth: 3 }),
  subject: subjects,
  when: whenValues,
  cron: recurrenceValues,
  every: fc.oneof(recurrenceValues, num),
  tz: fc.constantFrom("UTC", "Europe/Paris", "Nope/Zone"),
  headers: fc.dictionary(headerNames, fc.oneof(noise(20), fc.array(noise(10), { maxLength: 3 })), { maxKeys: 4 }),
  deadline: fc.oneof(num, whenValues),
  run_at: fc.oneof(num, whenValues),
  dedupe: fc.record({ key: noise(10), window_ms: num, mode: fc.constantFrom("throttle", "debounce", "x") }),
};
/**
 * A body for a route: a valid one (`base`) with one to three fields changed to plausible or any
 * values (so each change reaches the code behind validation), or any JSON.
 */
const bodyOf = (base: Record<string, unknown>, fields: string[]) =>
  fc.oneof(
    {
      arbitrary: fc
        .subarray(fields, { minLength: Math.min(1, fields.length), maxLength: Math.min(3, fields.length) })
        .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, fc.oneof(valueFor[k] ?? num, anyValue)]))))
        .map((changed) => ({ ...base, ...changed })),
      weight: 6,
    },
    fc.jsonValue({ maxDepth: 4 }),
  );
const TASK_FIELDS = [
  "type",
  "payload",
  "payload_b64",
  "id",
  "deadline",
  "max_tries",
  "priority",
  "run_at",
  "delay_ms",
  "dedupe",
];
const QUEUE_FIELDS = [
  "max_age_ms",
  "max_entries",
  "discard_old",
  "max_tries",
  "max_run_time_ms",
  "max_concurrent",
  "dead_letters",
  "dead_letter_retention_ms",
];
const SCHEDULE_FIELDS = ["id", "subject", "when", "cron", "tz", "every", "payload", "payload_b64", "headers"];

/** Every route, with a valid body and the fields that body takes. */
const routes: [string, string, string[], Record<string, unknown>?][] = [
  ["POST", "/enqueue/:q", ["content", "retry", "expiry"], { content: 1 }],
  ["POST", "/wait/", ["timeout", "queues"], { timeout: 0, queues: [QUEUE] }],
  ["POST", "/wait", ["timeout", "queues"], { timeout: 0, queues: [QUEUE] }],
  ["POST", "/ack/", ["ids"], { ids: [] }],
  ["POST", "/nak", ["ids"], { ids: [] }],
  ["GET", "/peek/:q", []],
  ["GET", "/queues/", []],
  ["GET", "/v1/queues", []],
  ["PUT", "/v1/queues/:q", QUEUE_FIELDS, {}],
  ["GET", "/v1/queues/:q", []],
  ["POST", "/v1/queues/:q/purge", []],
  ["POST", "/v1/queues/:q/tasks", TASK_FIELDS, { type: "t" }],
  ["POST", "/v1/queues/:q/pause", []],
  ["POST", "/v1/queues/:q/resume", []],
  ["PUT", "/v1/queues/:q/rate-limit", ["limit", "interval_ms"], { limit: 1, interval_ms: 1000 }],
  ["DELETE", "/v1/queues/:q/rate-limit", []],
  ["GET", "/v1/queues/:q/dead-letters", []],
  ["POST", "/v1/queues/:q/dead-letters/redrive", []],
  ["DELETE", "/v1/queues/:q/dead-letters", []],
  ["GET", "/v1/queues/:q/dead-letters/:id", []],
  ["POST", "/v1/queues/:q/dead-letters/:id/redrive", []],
  ["DELETE", "/v1/queues/:q/dead-letters/:id", []],
  ["GET", "/v1/tasks/:id", []],
  ["POST", "/v1/tasks/:id/cancel", []],
  ["GET", "/v1/tasks/:id/logs", []],
  ["POST", "/v1/schedules", SCHEDULE_FIELDS, { subject: "fuzz.out", when: "+1h" }],
  ["GET", "/v1/schedules", []],
  ["GET", "/v1/schedules/:id", []],
  ["DELETE", "/v1/schedules/:id", []],
  ["GET", "/v1/openapi.json", []],
];

const rawBody = (base: Record<string, unknown>, fields: string[]) =>
  fc.oneof(
    { arbitrary: bodyOf(base, fields).map((b) => JSON.stringify(b)), weight: 6 },
    fc.constantFrom("", "{", "[[[[", "null", "\u0000", `${"[".repeat(200)}${"]".repeat(200)}`, '{"a":1e999}'),
    noise(60),
  );
const query = fc.oneof(
  fc.constant(""),
  fc
    .dictionary(
      fc.constantFrom("n", "limit", "after", "logs", "x"),
      fc.oneof(noise(8), fc.constantFrom("1", "-1", "1e3", "99999999999999999999", "true")),
      { maxKeys: 3 },
    )
    .map((q) => `?${new URLSearchParams(q).toString()}`),
);

describe("fuzz: every HTTP route on a real gateway", () => {
  it("never answers 5xx, stores no schedule the policy refuses, and keeps answering", async () => {
    // Routes that take a body are drawn more often: their bodies are where most input goes.
    const route = fc.oneof(...routes.map((r) => ({ arbitrary: fc.constant(r), weight: r[2].length > 0 ? 4 : 1 })));
    const request = route.chain(([method, template, fields, base]) =>
      fc.record({
        method: fc.constant(method),
        template: fc.constant(template),
        q: fc.oneof(
          fc.constant(QUEUE),
          fc.uuid().map((u) => `fz${u.slice(0, 8)}`),
          segment,
        ),
        id: segment,
        query,
        body: fc.option(rawBody(base ?? {}, fields), { nil: undefined, freq: 8 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ method, template, q, id, query: qs, body }) => {
        const path = template.replace(":q", q).replace(":id", id === "TASK_ID" ? taskId : id) + qs;
        const sent = method === "GET" ? undefined : body?.replaceAll("TASK_ID", taskId);
        const a = await g.call(method, path, sent);
        assert.ok(a.status < 500, `${method} ${path} ${sent ?? ""} -> ${a.status} ${JSON.stringify(a.body)}`);
      }),
      fuzzParams(1000, 8000),
    );
    const policy = new TargetPolicy();
    const store = await (await storageOn(g.nc)).schedules();
    try {
      const { schedules } = await store.list(100_000);
      for (const s of schedules) assert.equal(policy.fireRefusal(s), undefined, `stored ${s.id} -> ${s.target}`);
    } finally {
    }
    assert.equal((await g.call("GET", "/v1/queues")).status, 200);
    assert.equal((await g.call("POST", `/enqueue/${QUEUE}`, { content: "after" })).status, 200);
  });
});
