import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BenchReport } from "../../bench/report.js";
import { readBenchReport, runQuickBench } from "../support/bench-run.js";

describe("bench --quick with the real peers (asyncjobs, emq, Gozo)", () => {
  let out = "";
  let run: { code: number | null; stdout: string; stderr: string };
  let report: BenchReport;

  // The peers' programs start as processes of their own: on a loaded machine (CI runs two test
  // files at once) this takes longer than the ~25 s it takes alone.
  before(
    async () => {
      out = await mkdtemp(join(tmpdir(), "jetq-bench-peers-test-"));
      run = await runQuickBench(
        out,
        ["--only", "enqueue-sequential,process-c10,http-c1,scheduler", "--sides", "jetq,asyncjobs,emq,gozo,library"],
        170_000,
      );
      assert.equal(run.code, 0, `bench exited with ${run.code}\n--- stderr ---\n${run.stderr.slice(-4000)}`);
      report = await readBenchReport(out);
    },
    { timeout: 180_000 },
  );

  after(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("measures jetq on every peer row, and each peer or says why it cannot", () => {
    const want: Record<string, string> = {
      "enqueue-sequential": "asyncjobs",
      "process-c10": "asyncjobs",
      "http-c1": "emq",
      scheduler: "gozo",
    };
    for (const [id, peer] of Object.entries(want)) {
      const s = report.scenarios.find((x) => x.id === id);
      assert.ok(s, `scenario ${id} missing`);
      for (const side of ["jetq", peer] as const) {
        const res = s.sides[side as keyof typeof s.sides];
        assert.ok(res, `${id}/${side} has no result`);
        assert.ok(!res.failed, `${id}/${side} failed: ${res.reason ?? res.errors?.join("; ")}`);
        if (side === peer && res.reason !== undefined) {
          assert.match(res.reason, /not built|could not be built|does not exist/, `${id}/${side}: ${res.reason}`);
          assert.match(run.stdout, new RegExp(`${id} / .*n/a`), "the table's notes say why");
          continue;
        }
        for (const m of s.metrics) {
          const v = res.median[m.id];
          assert.ok(typeof v === "number" && Number.isFinite(v), `${id}/${side}/${m.id} median is ${v}`);
        }
      }
      assert.ok(s.metrics[0] && `jetq/${peer}` in (s.ratios[s.metrics[0].id] ?? {}), `${id}: no jetq/${peer} ratio`);
    }
  });

  it("compares the one-client HTTP rows with the library and keeps the emq targets, met or n/a with the reason", () => {
    const http = report.scenarios.find((x) => x.id === "http-c1");
    for (const m of ["enqueue", "waitack", "wake50", "wake99"]) {
      assert.equal(typeof http?.sides.library?.median[m], "number", `library ${m}`);
      assert.equal(typeof http?.ratios[m]?.["jetq/library"], "number", `jetq/library ${m}`);
    }
    const emq = report.targets.filter((t) => t.id.startsWith("http-c1."));
    assert.deepEqual(
      emq.map((t) => t.id),
      ["http-c1.enqueue jetq/emq", "http-c1.waitack jetq/emq"],
    );
    const unavailable = http?.sides.emq?.reason !== undefined;
    for (const t of emq) {
      if (unavailable) {
        assert.equal(t.met, null);
        assert.match(t.measured, /^n\/a: emq not buildable/);
        assert.match(
          run.stdout,
          new RegExp(
            `^  n/a +HTTP ${t.id.includes("enqueue") ? "enqueue" : "wait\\+ack"} c=1 ≥ 1\\.0× emq: n/a: emq not buildable`,
            "m",
          ),
        );
      } else assert.equal(typeof t.value, "number");
    }
  });
});
