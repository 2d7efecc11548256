import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { sleep } from "./clock.js";
import { jetqCliArgs } from "./jetq-build.js";
import { REPO_ROOT } from "./repo-root.js";

/** The log line `jetq serve` writes once it is ready. */
export const SERVE_READY = "jetq serve ready";

/**
 * `jetq serve -a <url>` as a child process: the compiled package when the bench measures it
 * (`jetq-build.ts`), else the sources with tsx (what `npx tsx src/cli/main.ts serve` runs, without
 * npx's start-up). `start()` resolves on its ready log line; `stop()` sends SIGTERM and waits.
 */
export class JetqServeProcess {
  private proc?: ChildProcess;
  private log = "";

  constructor(
    private readonly natsUrl: string,
    private readonly startTimeoutMs = 30_000,
    /** More `jetq serve` flags (e.g. `["--http", "127.0.0.1:0"]`). */
    private readonly args: string[] = [],
  ) {}

  /** The URL of its HTTP gateway, once it logged it. */
  get httpUrl(): string | undefined {
    return /"msg":"HTTP gateway listening"/.test(this.log) ? /"url":"(http:[^"]+)"/.exec(this.log)?.[1] : undefined;
  }

  /** The process id, once started. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The last output of the process (stderr and stdout), for diagnostics. */
  get output(): string {
    return this.log;
  }

  /** Starts the service. @throws Error with its output when it exits or is not ready in time */
  async start(): Promise<void> {
    const proc = spawn(process.execPath, [...jetqCliArgs(), "serve", "-a", this.natsUrl, ...this.args], {
      cwd: REPO_ROOT,
      env: { ...process.env, JETQ_LOG_LEVEL: process.env.JETQ_LOG_LEVEL ?? "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    const deadline = Date.now() + this.startTimeoutMs;
    while (!this.log.includes(SERVE_READY)) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`jetq serve exited during start-up:\n${this.log.slice(-2000)}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`jetq serve was not ready within ${this.startTimeoutMs} ms:\n${this.log.slice(-2000)}`);
      }
      await sleep(50);
    }
  }

  /** Stops the service (SIGTERM, then SIGKILL after 10 s). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, "exit");
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
