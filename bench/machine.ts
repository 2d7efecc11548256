import { readFileSync } from "node:fs";
import { cpus, loadavg, type as osType, release, totalmem } from "node:os";
import { REPO_ROOT } from "./repo-root.js";

/** Where the figures were measured. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  natsServer: string;
  redis: string;
  bullmq: string;
  ioredis: string;
  natsJs: string;
  jetq: string;
  /**
   * 1/5/15-minute load averages when the run started and ended: other work on the machine (it is
   * shared) makes rates noisy; a start load well above 0 means the figures deserve a re-run.
   */
  loadAverage: { start: number[]; end: number[] };
}

/** The 1/5/15-minute load averages, rounded to 2 decimals. */
export function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(`${REPO_ROOT}node_modules/${name}/package.json`, "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Describes this machine and the versions under test; `loadAtStart` defaults to the load now. */
export function machineInfo(natsServer: string, redis: string, loadAtStart = loadAverage()): MachineInfo {
  const list = cpus();
  let jetq = "unknown";
  try {
    jetq = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, "utf8")) as { version?: string }).version ?? jetq;
  } catch {
    // keep "unknown"
  }
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    node: process.version,
    natsServer: natsServer.replace(/^nats-server:\s*/, ""),
    redis,
    bullmq: packageVersion("bullmq"),
    ioredis: packageVersion("ioredis"),
    natsJs: packageVersion("@nats-io/jetstream"),
    jetq,
    loadAverage: { start: loadAtStart, end: loadAverage() },
  };
}
