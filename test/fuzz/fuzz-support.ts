import fc from "fast-check";

/**
 * The fast-check settings of the fuzz suite: a seed from `FUZZ_SEED` (to replay a failure) or a
 * fresh one, printed when a property fails; each property stops after `timeLimitMs`.
 */
export function fuzzParams(numRuns: number, timeLimitMs: number): fc.Parameters<unknown> {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() ^ (Math.random() * 2 ** 31);
  return {
    seed,
    numRuns,
    interruptAfterTimeLimit: timeLimitMs,
    markInterruptAsFailure: false,
    reporter: (details) => {
      if (details.failed) throw new Error(`${fc.defaultReportMessage(details)}\nreplay with FUZZ_SEED=${details.seed}`);
    },
  };
}

/** Strings of any code points (control characters included) or of printable ASCII. */
export const noise = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ unit: "binary", maxLength }), fc.string({ maxLength }));

/** Subjects an attacker would aim at, plus ordinary ones and noise. */
export const subjects = fc.oneof(
  fc.constantFrom(
    "$JS.API.STREAM.DELETE.JETQ_TASKS",
    "$JS.API.STREAM.PURGE.JETQ_SCHEDULES",
    "$KV.JETQ_CONFIG.x",
    "$SYS.REQ.SERVER.PING",
    "$O.b.C.x",
    "jetq.q.emails.5.01JB6Y4Q3K9V2W8X7Z5N0M1P2R",
    "jetq.task.x",
    "jetq.sched.x",
    "jetq.api.sched.add",
    "gozo",
    "_INBOX.abc",
    "orders.remind",
    "a.*",
    "a.>",
    "a\u0000b",
    "a\u001bb",
    "a\u007fb",
    "a\u0085b",
    "",
  ),
  noise(40),
  fc
    .array(fc.constantFrom("$JS", "$KV", "jetq", "a", "b", "*", ">", "", "\u0000", "x y"), {
      minLength: 1,
      maxLength: 5,
    })
    .map((t) => t.join(".")),
);

/** Header names: Gozo's, the server's `Nats-` ones, and noise. */
export const headerNames = fc.oneof(
  fc.constantFrom(
    "Gozo-When",
    "Gozo-Id",
    "Gozo-Del-Id",
    "Gozo-Cron",
    "Gozo-Cron-Tz",
    "Gozo-Every",
    "gozo-when",
    "Nats-Msg-Id",
    "Nats-Rollup",
    "nats-rollup",
    "Nats-Schedule",
    "Nats-Batch-Id",
    "Nats-Incr",
    "Nats-TTL",
    "X-Trace",
    "__proto__",
  ),
  noise(12).filter((s) => s.length > 0),
);

/** Values of the Gozo time headers, and noise. */
export const whenValues = fc.oneof(
  fc.constantFrom(
    "+0",
    "+1",
    "+1.5",
    "+250ms",
    "+5m",
    "+1h",
    "+2d",
    "+9999999999d",
    "0",
    "1735689600",
    "99999999999",
    "2026-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "-1",
    "soon",
  ),
  noise(20),
);

/** Values of `every` and `cron`. */
export const recurrenceValues = fc.oneof(
  fc.constantFrom(
    "99999999999999999999",
    "1e20",
    "0ms",
    "10ms",
    "5m",
    "3650d",
    "36500d",
    "* * * * * *",
    "0 0 0 1 1 *",
    "0 0 9 1 * *",
    "not cron",
    "* * * * *\u0000",
  ),
  noise(20),
);
