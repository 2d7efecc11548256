/**
 * The asyncjobs side: choria-io/asyncjobs (Go), the library jetq's library face follows, driven by our
 * program bench/peers/asyncjobs (built by scripts/bootstrap.mjs into .tools/bin). It connects to the
 * benchmark's nats-server with asyncjobs' defaults, sets up a fresh queue, says "ready", runs the timed
 * window when told, reports its wall and CPU time, and deletes its queue and task records.
 */
import { randomUUID } from "node:crypto";
import { Stopwatch, type Timed } from "../cpu.js";
import { PeerProcess } from "../peers/peer-process.js";
import { findPeer } from "../peers/tools.js";
import { type BenchContext, SideUnavailable } from "../types.js";

/** What the program does in its timed window (see bench/peers/asyncjobs/main.go). */
export type AsyncjobsMode = "enqueue-sequential" | "enqueue-parallel" | "process" | "drain";

/** Goroutines calling `EnqueueTask` where the other sides enqueue in bulk (asyncjobs has no bulk call). */
export const ASYNCJOBS_ENQUEUERS = 64;

/**
 * Runs one measured window of the asyncjobs program. Wall time and client CPU are the program's own
 * figures for its window; server CPU is nats-server's over the same window, seen from here.
 * @throws SideUnavailable when the program is not built
 */
export async function runAsyncjobs(ctx: BenchContext, mode: AsyncjobsMode, concurrency = 10): Promise<Timed> {
  const bin = findPeer("asyncjobs");
  if (!("path" in bin)) throw new SideUnavailable(bin.reason);
  const n = ctx.options.jobs;
  const p = new PeerProcess(
    "asyncjobs",
    bin.path,
    [
      `-url=${ctx.servers.nats.url}`,
      `-mode=${mode}`,
      `-jobs=${n}`,
      `-concurrency=${concurrency}`,
      `-enqueuers=${ASYNCJOBS_ENQUEUERS}`,
      `-queue=bench_${randomUUID().slice(0, 8)}`,
    ],
    { stdin: true },
  );
  try {
    await p.waitFor(/^ready$/m, 300_000);
    const sw = new Stopwatch(ctx.servers.serverPid("asyncjobs")).start();
    const from = p.output.length;
    p.send("go");
    const m = await p.waitFor(/^(\{.*\})$/m, 300_000 + n * 5, from);
    const server = sw.stop().cpu.serverCpuMs;
    const r = JSON.parse(m[1] ?? "{}") as { ms: number; cpuMs: number; handled: number };
    await p.exited(60_000); // it deletes its queue and task records before it exits
    return { ms: r.ms, cpu: { clientCpuMs: Math.round(r.cpuMs), serverCpuMs: server } };
  } finally {
    await p.stop();
  }
}
