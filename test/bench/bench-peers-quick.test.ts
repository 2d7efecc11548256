import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BenchReport } from "../../bench/report.js";
import { runQuickBench } from "../support/bench-run.js";

describe("bench --quick with the real peers (asyncjobs, emq, Gozo)", () => {
  let out = "";
  let run: { code: number | null; stdout: string; stderr: string };
  let report: BenchReport;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), "jetq-bench-peers-test-"));
    run = await runQuickBench(out, [
      "--only",
      "enqueue-sequential,process-c10,gateway,scheduler",
      "--sides",
      "jetq,asyncjobs,emq,gozo",
      "--jobs",
      "1000",
    ]);
    assert.equal(run.code, 0, `bench exited with ${run.code}\n--- stderr ---\n${run.stderr.slice(-4000)}`);
    report = JSON.parse(await readFile(join(out, "latest.json"), "utf8")) as BenchReport;
  });

  after(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("measures jetq on every peer row, and each peer or says why it cannot", () => {
    const want: Record<string, string> = {
      "enqueue-sequential": "asyncjobs",
      "process-c10": "asyncjobs",
      "gateway-c1": "emq",
      "gateway-c4": "emq",
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
      assert.equal(typeof s.ratios[s.metrics[0]!.id]?.[`jetq/${peer}` as "jetq/emq"] !== "undefined", true);
    }
  });
});
