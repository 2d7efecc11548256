import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BenchReport } from "../../bench/report.js";
import { readBenchReport, runQuickBench } from "../support/bench-run.js";

describe("bench --quick, the other faces (HTTP with 16 clients, REST, outbox, scale)", () => {
  let out = "";
  let run: { code: number | null; stdout: string; stderr: string };
  let report: BenchReport;

  before(
    async () => {
      out = await mkdtemp(join(tmpdir(), "jetq-bench-faces-test-"));
      run = await runQuickBench(out, ["--only", "http-c16,rest,outbox,scale", "--sides", "jetq,library"], 110_000);
      assert.equal(run.code, 0, `bench exited with ${run.code}\n--- stderr ---\n${run.stderr.slice(-4000)}`);
      report = await readBenchReport(out);
    },
    { timeout: 120_000 },
  );

  after(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("measures every face row on jetq and on the library of the same run, with their ratio", () => {
    const want: Record<string, string[]> = {
      "http-c16": ["enqueue", "waitack"],
      "rest-c1": ["enqueue"],
      "rest-c16": ["enqueue"],
      outbox: ["sequential", "batched", "drain"],
    };
    for (const [id, metrics] of Object.entries(want)) {
      const s = report.scenarios.find((x) => x.id === id);
      assert.ok(s, `scenario ${id} missing; got ${report.scenarios.map((x) => x.id).join(", ")}`);
      assert.deepEqual(
        s.metrics.map((m) => m.id),
        metrics,
      );
      for (const side of ["jetq", "library"] as const) {
        const res = s.sides[side];
        assert.ok(res && !res.failed && res.reason === undefined, `${id}/${side}: ${res?.reason ?? res?.errors}`);
        for (const m of metrics) assert.ok(Number(res.median[m]) > 0, `${id}/${side}/${m} median is ${res.median[m]}`);
      }
      for (const m of metrics) assert.equal(typeof s.ratios[m]?.["jetq/library"], "number", `${id}/${m} ratio`);
    }
  });

  it("creates the queues of the scale row, runs a task through each and measures the idle worker, once", () => {
    const s = report.scenarios.find((x) => x.id === "scale");
    const jetq = s?.sides.jetq;
    assert.ok(jetq && !jetq.failed && jetq.reason === undefined, `scale: ${jetq?.reason}`);
    assert.equal(jetq.rounds.working?.length, 1);
    assert.equal(jetq.median.working, report.options.scaleQueues);
    assert.ok(Number(jetq.median.create) > 0);
    assert.ok(Number(jetq.median.idle) >= 0 && Number(jetq.median.idle) <= 100, `idle ${jetq.median.idle}`);
    const ids = report.targets.map((t) => t.id);
    for (const id of ["http-c16.enqueue jetq/library", "http-c16.waitack jetq/library", "scale.working", "scale.idle"])
      assert.ok(ids.includes(id), `${id} missing; got ${ids.join(", ")}`);
    assert.equal(report.targets.find((t) => t.id === "scale.working")?.met, true);
  });
});
