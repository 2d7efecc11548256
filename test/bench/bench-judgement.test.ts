import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseOptions } from "../../bench/options.js";
import { checkRegressions, compareReports, regressionLines } from "../../bench/regressions.js";
import { type ScenarioReport, withRatios } from "../../bench/report.js";
import type { ScenarioResult } from "../../bench/runner.js";
import { targetLines, targets } from "../../bench/targets.js";
import type { MetricSpec, SideId, SideResult } from "../../bench/types.js";

const rate: MetricSpec = { id: "rate", title: "", unit: "jobs/s", better: "higher" };

function side(median: Record<string, number | null>, more: Partial<SideResult> = {}): SideResult {
  return { rounds: {}, median, ...more };
}

function scenario(
  id: string,
  metrics: MetricSpec[],
  sides: Partial<Record<SideId, SideResult>>,
  title = id,
): ScenarioReport {
  const s: ScenarioResult = {
    id,
    title,
    description: "",
    metrics: metrics.map((m) => ({ ...m, title: m.title || title })),
    sides,
  };
  return withRatios(s);
}

/** A run with the queue rows, the CPU figures of process c=100, the HTTP rows and the scale row. */
function run(f: {
  batched: number;
  c100: number;
  server: number;
  http16: number;
  emqReason?: string;
}): ScenarioReport[] {
  return [
    scenario(
      "enqueue-sequential",
      [rate],
      { jetq: side({ rate: 950 }), raw: side({ rate: 1000 }) },
      "enqueue sequential",
    ),
    scenario(
      "enqueue-batched",
      [rate],
      { jetq: side({ rate: f.batched }), bullmq: side({ rate: 1000 }), "bullmq-aof": side({ rate: 900 }) },
      "enqueue batched",
    ),
    scenario(
      "process-c100",
      [rate],
      {
        jetq: side({ rate: f.c100 }, { cpuUsPerJob: { client: 60, server: f.server } }),
        bullmq: side({ rate: 1000 }, { cpuUsPerJob: { client: 50, server: 40 } }),
        "bullmq-aof": side({ rate: 900 }),
        raw: side({ rate: 3000 }, { cpuUsPerJob: { client: 40, server: 20 } }),
      },
      "process c=100",
    ),
    scenario("raw-record-c100", [rate], { raw: side({ rate: 2000 }, { cpuUsPerJob: { client: 80, server: 25 } }) }),
    scenario(
      "http-c1",
      [
        { id: "enqueue", title: "HTTP enqueue c=1", unit: "req/s", better: "higher" },
        { id: "waitack", title: "HTTP wait+ack c=1", unit: "cycles/s", better: "higher" },
        { id: "wake50", title: "HTTP wake-up p50", unit: "ms", better: "lower" },
      ],
      {
        jetq: side({ enqueue: 500, waitack: 400, wake50: 2 }),
        emq: side(
          { enqueue: null, waitack: null, wake50: null },
          { reason: f.emqReason ?? "emq could not be built (x)" },
        ),
        library: side({ enqueue: 1000, waitack: 800, wake50: 1 }),
      },
    ),
    scenario(
      "http-c16",
      [
        { id: "enqueue", title: "HTTP enqueue c=16", unit: "req/s", better: "higher" },
        { id: "waitack", title: "HTTP wait+ack c=16", unit: "cycles/s", better: "higher" },
      ],
      { jetq: side({ enqueue: f.http16, waitack: 700 }), library: side({ enqueue: 1000, waitack: 1000 }) },
    ),
    scenario(
      "scale",
      [
        { id: "working", title: "queues working", unit: "queues", better: "higher" },
        { id: "idle", title: "idle", unit: "% core", better: "lower" },
      ],
      { jetq: side({ working: 20, idle: 1.5 }) },
    ),
  ];
}

const sizes = { scaleQueues: 20, idleQueues: 10 };
const base = { batched: 1100, c100: 1000, server: 30, http16: 600 };

describe("bench targets (issue 14)", () => {
  it("applies the 2.14 thresholds on 2.14: ≥ 1.0× BullMQ and ≥ 1.2× BullMQ+AOF", () => {
    const ts = targets(run(base), "2.14.10", sizes);
    const batched = ts.filter((t) => t.id.startsWith("enqueue-batched"));
    assert.deepEqual(
      batched.map((t) => [t.id, t.threshold, t.met]),
      [
        ["enqueue-batched.rate jetq/bullmq", 1, true],
        ["enqueue-batched.rate jetq/bullmq-aof", 1.2, true], // 1100 / 900 = 1.22
      ],
    );
    const c100 = ts.filter((t) => t.id.startsWith("process-c100.rate"));
    assert.deepEqual(
      c100.map((t) => t.met),
      [true, false],
    ); // 1000/1000 = 1.0 met; 1000/900 = 1.11 < 1.2
  });

  it("applies the 2.9 threshold on 2.9: the same rows ≥ 0.8× BullMQ, no BullMQ+AOF target", () => {
    const ts = targets(run({ ...base, batched: 790 }), "2.9.10", sizes);
    const batched = ts.filter((t) => t.id.startsWith("enqueue-batched"));
    assert.deepEqual(
      batched.map((t) => [t.id, t.threshold, t.met]),
      [["enqueue-batched.rate jetq/bullmq", 0.8, false]],
    );
  });

  it("judges sequential enqueue against raw JetStream's awaited publish, CPU, HTTP and scale", () => {
    const ts = new Map(targets(run(base), "2.14.10", sizes).map((t) => [t.id, t]));
    assert.equal(ts.get("enqueue-sequential.rate jetq/raw")?.met, true); // 0.95 ≥ 0.9
    assert.equal(ts.get("process-c100 server-cpu jetq/raw")?.value, 1.5); // 30 / 20
    assert.equal(ts.get("process-c100 server-cpu jetq/raw")?.met, true);
    // The floor with an outcome record per job is named beside it: 25 µs, 1.25× raw; jetq 1.2× that.
    assert.match(
      ts.get("process-c100 server-cpu jetq/raw")?.measured ?? "",
      /outcome record per job: 25 µs \(1\.25× raw\), jetq 1\.20× that/,
    );
    assert.equal(ts.get("process-c100 total-cpu jetq/bullmq")?.value, 1); // 90 / 90
    assert.equal(ts.get("http-c16.enqueue jetq/library")?.met, true); // 0.6 ≥ 0.5
    assert.equal(ts.get("http-c16.waitack jetq/library")?.met, true); // 0.7 ≥ 0.6
    assert.equal(ts.get("scale.working")?.met, true);
    assert.equal(ts.get("scale.idle")?.met, true);
    const over = new Map(targets(run({ ...base, server: 50, http16: 400 }), "2.14.10", sizes).map((t) => [t.id, t]));
    assert.equal(over.get("process-c100 server-cpu jetq/raw")?.met, false); // 2.5×
    assert.equal(over.get("http-c16.enqueue jetq/library")?.met, false);
  });

  it("keeps the emq rows when emq cannot be built, saying so", () => {
    const ts = targets(run(base), "2.14.10", sizes);
    const emq = ts.filter((t) => t.id.startsWith("http-c1."));
    assert.equal(emq.length, 2);
    for (const t of emq) {
      assert.equal(t.met, null);
      assert.match(t.measured, /^n\/a: emq not buildable/);
    }
    const lines = targetLines(ts);
    assert.ok(lines.some((l) => /^n\/a\s+HTTP enqueue c=1 ≥ 1\.0× emq: n\/a: emq not buildable/.test(l)));
    assert.match(lines.at(-1) ?? "", /met, \d+ missed, 2 n\/a$/);
  });
});

describe("bench regression check", () => {
  const doc = (scenarios: ScenarioReport[], mode = "full") => ({
    mode,
    finishedAt: "2026-12-02T00:00:00.000Z",
    scenarios,
    targets: targets(scenarios, "2.14.10", sizes),
  });

  it("lists a throughput ratio more than 20% lower, not one 20% lower or less", () => {
    const prev = doc(run(base));
    const r = compareReports(prev, doc(run({ ...base, batched: 850, c100: 820 })));
    const keys = r.regressions.map((g) => g.key);
    assert.ok(keys.includes("enqueue-batched.rate jetq/bullmq"), keys.join()); // 1.1 → 0.85: 23% worse
    assert.ok(!keys.includes("process-c100.rate jetq/bullmq"), keys.join()); // 1.0 → 0.82: 18% worse
    assert.ok(r.compared > 10);
  });

  it("lists a higher CPU ratio (a target that is no table ratio) and ignores improvements", () => {
    const r = compareReports(doc(run(base)), doc(run({ ...base, server: 40, http16: 900 })));
    assert.deepEqual(
      r.regressions.map((g) => g.key),
      ["target process-c100 server-cpu jetq/raw"], // 1.5 → 2.0: 25% worse
    );
  });

  it("does not list a latency change of jetq under 1 ms, however large in percent", async () => {
    const p50: MetricSpec[] = [{ id: "p50", title: "p50", unit: "ms", better: "lower" }];
    const alone = (jetq: number) => doc([scenario("lat", p50, { jetq: side({ p50: jetq }) })]);
    assert.equal(compareReports(alone(0.5), alone(1.2)).regressions.length, 0);
    assert.equal(compareReports(alone(0.5), alone(3)).regressions[0]?.key, "lat.p50 jetq");
    const vsBull = (jetq: number) =>
      doc([scenario("lat", p50, { jetq: side({ p50: jetq }), bullmq: side({ p50: 10 }) })]);
    assert.equal(compareReports(vsBull(0.5), vsBull(1.2)).regressions.length, 0); // ratio 0.05 → 0.12
    assert.equal(compareReports(vsBull(0.5), vsBull(3)).regressions[0]?.key, "lat.p50 jetq/bullmq");
  });

  it("reads the previous results of the file, and only compares runs of the same mode", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jetq-bench-regress-"));
    try {
      const file = join(dir, "latest-2.14.json");
      const none = await checkRegressions(file, doc(run(base)));
      assert.equal(none.status, "none");
      assert.match(regressionLines(none)[0] ?? "", /^REGRESSIONS: not checked/);

      await writeFile(file, JSON.stringify(doc(run(base))));
      const quick = await checkRegressions(file, doc(run(base), "quick"));
      assert.equal(quick.status, "other-mode");

      const checked = await checkRegressions(file, doc(run({ ...base, batched: 800 })));
      assert.equal(checked.status, "checked");
      const lines = regressionLines(checked);
      assert.match(
        lines[0] ?? "",
        /^REGRESSIONS vs .*latest-2\.14\.json \(full run of 2026-12-02 00:00 UTC.*\): \d+ of \d+ figures more than 20% worse:$/,
      );
      assert.ok(
        lines.some((l) => /enqueue batched jetq\/BullMQ: 1\.10× → 0\.80× \(27% worse\)/.test(l)),
        lines.join("\n"),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("bench options", () => {
  it("picks servers with --nats-server (repeatable) or --both, not both at once", () => {
    const o = parseOptions(["--nats-server", "/a", "--nats-server", "/b"]);
    assert.ok(o !== "help");
    assert.deepEqual(o.natsServers, ["/a", "/b"]);
    const both = parseOptions(["--both"]);
    assert.ok(both !== "help" && both.both);
    assert.throws(() => parseOptions(["--both", "--nats-server", "/a"]), /exclude each other/);
  });
});
