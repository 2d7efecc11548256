import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BenchReport } from "../../bench/report.js";
import { resolveNatsServer } from "../../src/nats/nats-server-binary.js";
import { readBenchReport, runQuickBench } from "../support/bench-run.js";

describe("bench --quick (smoke test of the benchmark harness)", () => {
  const server = resolveNatsServer(); // the one the bench picks by default, as the tests do
  let out = "";
  let run: { code: number | null; stdout: string; stderr: string };
  let report: BenchReport;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), "jetq-bench-test-"));
    run = await runQuickBench(out);
    assert.equal(run.code, 0, `bench exited with ${run.code}\n--- stderr ---\n${run.stderr.slice(-4000)}`);
    report = await readBenchReport(out);
  });

  after(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("reports every scenario with a numeric median for every side", () => {
    const ids = report.scenarios.map((s) => s.id);
    for (const id of [
      "enqueue-sequential",
      "enqueue-batched",
      "process-c1",
      "process-c10",
      "process-c100",
      "drain-c100",
      "latency",
      "raw",
      "raw-record-c100",
      "delayed",
      "delayed-tasks",
    ]) {
      assert.ok(ids.includes(id), `scenario ${id} missing; got ${ids.join(", ")}`);
    }
    for (const s of report.scenarios) {
      const sides = Object.entries(s.sides);
      assert.ok(sides.length > 0, `${s.id} has no sides`);
      for (const [side, res] of sides) {
        assert.ok(res, `${s.id}/${side} has no result`);
        assert.ok(!res.failed, `${s.id}/${side} failed: ${res.reason}`);
        assert.equal(res.reason, undefined, `${s.id}/${side} unavailable: ${res.reason}`);
        for (const m of s.metrics) {
          const v = res.median[m.id];
          assert.equal(typeof v, "number", `${s.id}/${side}/${m.id} median is ${v}`);
          assert.ok(Number.isFinite(v), `${s.id}/${side}/${m.id} median is not finite`);
          assert.equal(res.rounds[m.id]?.length, report.options.rounds, `${s.id}/${side}/${m.id} rounds`);
        }
      }
    }
  });

  it("measures jetq as built by tsc, and says so", () => {
    assert.equal(report.options.jetq, "built");
    const dir = /^\[bench\] jetq built with tsc into (\S*\.bench-build-\d+) /m.exec(run.stderr)?.[1];
    assert.ok(dir, `no build line in\n${run.stderr.slice(0, 2000)}`);
    assert.equal(existsSync(dir), false, "the build is removed when the bench exits");
    assert.match(run.stdout, /medians, jetq built by tsc$/m);
  });

  it("names the server it ran on and judges the issue's targets under that version's rules", () => {
    assert.equal(report.natsServer.version, server.version);
    assert.equal(report.machine.natsServer, `v${server.version}`);
    assert.match(run.stdout, new RegExp(`^jetq bench on nats-server ${server.version.replace(/\./g, "\\.")} `, "m"));
    const modern = report.natsServer.key !== "2.9";
    assert.match(
      run.stdout,
      new RegExp(`targets \\(issue 14, the nats-server ${modern ? "2\\.14" : "2\\.9"} rules\\)`),
    );
    const ids = report.targets.map((t) => t.id);
    for (const row of ["enqueue-batched", "process-c1", "process-c10", "process-c100", "drain-c100"]) {
      assert.ok(ids.includes(`${row}.rate jetq/bullmq`), `${row} vs BullMQ missing; got ${ids.join(", ")}`);
      assert.equal(ids.includes(`${row}.rate jetq/bullmq-aof`), modern, `${row} vs BullMQ+AOF`);
    }
    for (const id of [
      "enqueue-sequential.rate jetq/raw",
      "process-c100 server-cpu jetq/raw",
      "process-c100 total-cpu jetq/bullmq",
    ])
      assert.ok(ids.includes(id), `${id} missing`);
    for (const t of report.targets) {
      assert.equal(typeof t.value, "number", `${t.id} has no value: ${t.measured}`);
      assert.equal(t.met, t.comparison === ">=" ? t.value! >= t.threshold : t.value! <= t.threshold, t.id);
      assert.match(run.stdout, new RegExp(`^  (met   |MISSED) ${literal(t.description)}: `, "m"));
    }
  });

  it("includes ratios, CPU per job and machine info, and prints the regression block", () => {
    const enq = report.scenarios.find((s) => s.id === "enqueue-batched");
    assert.equal(typeof enq?.ratios.rate?.["jetq/bullmq"], "number");
    assert.equal(typeof enq?.ratios.rate?.["jetq/raw"], "number");
    const c100 = report.scenarios.find((s) => s.id === "process-c100");
    for (const side of ["jetq", "bullmq", "raw"] as const) {
      const cpu = c100?.sides[side]?.cpuUsPerJob;
      assert.ok(cpu && cpu.client > 0 && cpu.server !== null, `${side} CPU per job: ${JSON.stringify(cpu)}`);
    }
    assert.equal(report.mode, "quick");
    assert.ok(report.machine.cpus > 0);
    assert.match(report.machine.node, /^v\d+/);
    assert.ok(report.machine.redis.length > 0);
    assert.match(
      report.regressions.baseline,
      new RegExp(`latest-${report.natsServer.key.replace(".", "\\.")}\\.json$`),
    );
    assert.match(run.stdout, /^REGRESSIONS/m);
  });

  it("writes a valid SVG chart and the markdown tables next to the JSON", async () => {
    const base = join(out, `latest-${report.natsServer.key}`);
    const svg = await readFile(`${base}.svg`, "utf8");
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n?$/);
    const md = await readFile(`${base}.md`, "utf8");
    assert.match(md, /^\| row \| unit \| jetq \| BullMQ \|/m);
    assert.match(run.stdout, /jetq\/BullMQ/);
  });
});

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
