import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serverKey } from "../../bench/nats-servers.js";
import type { BenchReport } from "../../bench/report.js";
import { resolveNatsServer } from "../../src/nats/nats-server-binary.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The queue scenarios against BullMQ and raw JetStream (the peers and the other faces have their own smoke tests). */
export const QUEUE_SCENARIOS = "enqueue,process,drain,latency,raw,delayed,delayed-tasks";

/** Runs `tsx bench/run.ts --quick --out <dir> <args>` and returns its exit code and output. */
export function runQuickBench(
  out: string,
  args = ["--only", QUEUE_SCENARIOS, "--sides", "jetq,bullmq,bullmq-aof,raw"],
  timeoutMs = 110_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", "--quick", "--out", out, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The results a quick run wrote to `out` for the nats-server the bench picks by default (the one
 * `JETQ_NATS_SERVER` names, else the newest found): `latest-<major.minor>.json`.
 */
export async function readBenchReport(out: string): Promise<BenchReport> {
  const file = join(out, `latest-${serverKey(resolveNatsServer().version)}.json`);
  return JSON.parse(await readFile(file, "utf8")) as BenchReport;
}
