/**
 * CPU time accounting for a run: this process (`process.cpuUsage`) and the server process it talks
 * to (`/proc/<pid>/stat`), so a result says whether the client or the server was the busy one.
 */
import { readdirSync, readFileSync } from "node:fs";
import { monoMs } from "./clock.js";

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU time (user + system, ms) used so far by `pid`, or null when it cannot be read (not Linux, gone). */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

/** The pid of the process whose command line contains `needle` (e.g. a config path), if any. */
export function findPid(needle: string): number | undefined {
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) return Number(entry);
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** CPU milliseconds used by this process and by a server during one measured run. */
export interface CpuSpent {
  clientCpuMs: number;
  serverCpuMs: number | null;
}

/** Wall time and CPU time of one timed window. */
export interface Timed {
  ms: number;
  cpu: CpuSpent;
}

/**
 * Measures one window: wall time (monotonic) and the CPU time of this process and of a server.
 * `start()` opens the window (again, if called twice); `stop()` closes it.
 */
export class Stopwatch {
  private t0 = 0;
  private c0 = process.cpuUsage();
  private s0: number | null = null;

  constructor(private readonly serverPid: number | undefined) {}

  /** Opens the window now. */
  start(): this {
    this.c0 = process.cpuUsage();
    this.s0 = processCpuMs(this.serverPid);
    this.t0 = monoMs();
    return this;
  }

  /** Closes the window and returns what it measured. */
  stop(): Timed {
    const ms = monoMs() - this.t0;
    const c = process.cpuUsage(this.c0);
    const s1 = processCpuMs(this.serverPid);
    return {
      ms,
      cpu: {
        clientCpuMs: Math.round((c.user + c.system) / 1000),
        serverCpuMs: this.s0 === null || s1 === null ? null : Math.round(s1 - this.s0),
      },
    };
  }
}

/** Fields for a run's `detail`: wall ms and CPU ms (the server's only when known). */
export function timedDetail(t: Timed): Record<string, number> {
  return {
    ms: Math.round(t.ms),
    clientCpuMs: t.cpu.clientCpuMs,
    ...(t.cpu.serverCpuMs === null ? {} : { serverCpuMs: t.cpu.serverCpuMs }),
  };
}
