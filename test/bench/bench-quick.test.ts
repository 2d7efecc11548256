import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BenchReport } from "../../bench/report.js";
import { runQuickBench } from "../support/bench-run.js";

describe("bench --quick (smoke test of the benchmark harness)", () => {
  let out = "";
  let run: { code: number | null; stdout: string; stderr: string };
  let report: BenchReport;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), "jetq-bench-test-"));
    run = await runQuickBench(out);
    assert.equal(run.code, 0, `bench exited with ${run.code}\n--- stderr ---\n${run.stderr.slice(-4000)}`);
    report = JSON.parse(await readFile(join(out, "latest.json"), "utf8")) as BenchReport;
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
      "delayed",
    ]) {
      assert.ok(ids.includes(id), `scenario ${id} missing; got ${ids.join(", ")}`);
    }
    for (const s of report.scenarios) {
      const sides = Object.entries(s.sides);
      assert.ok(sides.length > 0, `${s.id} has no sides`);
      for (const [side, res] of sides) {
        assert.ok(res, `${s.id}/${side} has no result`);
        assert.ok(!res.failed, `${s.id}/${side} failed: ${res.reason}`);
        // Only the scheduler side of the delayed scenario may be unavailable, and then it says why.
        if (res.reason !== undefined) {
          assert.ok(s.id === "delayed" && side === "jetq", `${s.id}/${side} unavailable: ${res.reason}`);
          continue;
        }
        for (const m of s.metrics) {
          const v = res.median[m.id];
          assert.equal(typeof v, "number", `${s.id}/${side}/${m.id} median is ${v}`);
          assert.ok(Number.isFinite(v), `${s.id}/${side}/${m.id} median is not finite`);
          assert.equal(res.rounds[m.id]?.length, report.options.rounds, `${s.id}/${side}/${m.id} rounds`);
        }
      }
    }
  });

  it("includes ratios, targets and machine info", () => {
    const enq = report.scenarios.find((s) => s.id === "enqueue-batched");
    assert.equal(typeof enq?.ratios.rate?.["jetq/bullmq"], "number");
    assert.equal(typeof enq?.ratios.rate?.["jetq/raw"], "number");
    assert.ok(report.targets.length > 0);
    assert.equal(report.mode, "quick");
    assert.ok(report.machine.cpus > 0);
    assert.match(report.machine.node, /^v\d+/);
    assert.ok(report.machine.natsServer.length > 0);
    assert.ok(report.machine.redis.length > 0);
  });

  it("writes a valid SVG chart and prints the table", async () => {
    const svg = await readFile(join(out, "latest.svg"), "utf8");
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n?$/);
    assert.match(run.stdout, /jetq\/BullMQ/);
  });
});
