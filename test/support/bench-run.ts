import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The queue scenarios against BullMQ and raw JetStream (the real peers have their own smoke test). */
export const QUEUE_SCENARIOS = "enqueue,process,drain,latency,raw,delayed,delayed-tasks";

/** Runs `tsx bench/run.ts --quick --out <dir> <args>` and returns its exit code and output. */
export function runQuickBench(
  out: string,
  args = ["--only", QUEUE_SCENARIOS, "--sides", "jetq,bullmq,bullmq-aof,raw"],
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
    const timer = setTimeout(() => child.kill("SIGTERM"), 110_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
