import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../src/nats/nats-server-launcher.js";

/** How a benchmark redis-server persists data. */
export type RedisPersistence = "none" | "aof-everysec";

/** Options of {@link RedisServerLauncher}. */
export interface RedisServerOptions {
  /** `none`: `--save "" --appendonly no`; `aof-everysec`: `--appendonly yes --appendfsync everysec`. */
  persistence: RedisPersistence;
  /** Path of the binary. @defaultValue `"redis-server"` from PATH */
  binary?: string;
  /** How long to wait for "Ready to accept connections". @defaultValue 15000 ms */
  startTimeoutMs?: number;
}

/**
 * Returns `redis-server --version`'s version (e.g. `"7.0.15"`), or throws an error that says
 * which Debian package to install when the binary is not on PATH.
 */
export function assertRedisServerAvailable(binary = "redis-server"): string {
  const r = spawnSync(binary, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(
      `${binary} was not found on PATH; the benchmark compares against BullMQ on Redis. ` +
        `Install it with "apt-get install redis-server" (npm run bench / npm test do this when run as root)`,
    );
  }
  return /v=(\S+)/.exec(r.stdout)?.[1] ?? r.stdout.trim();
}

/**
 * One `redis-server` on 127.0.0.1, a free port and a temp working directory, for the benchmark only.
 * `start()` resolves once it accepts connections; `stop()` kills it and removes the directory.
 */
export class RedisServerLauncher {
  readonly host = "127.0.0.1";
  port = 0;
  private proc?: ChildProcess;
  private dir = "";
  private log = "";

  constructor(readonly opts: RedisServerOptions) {}

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The URL of the server, e.g. `redis://127.0.0.1:6390`. */
  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  /** Starts the server and waits until it is ready. */
  async start(): Promise<this> {
    const binary = this.opts.binary ?? "redis-server";
    assertRedisServerAvailable(binary);
    this.dir = await mkdtemp(join(tmpdir(), "jetq-bench-redis-"));
    this.port = await freePort();
    const persistence =
      this.opts.persistence === "none"
        ? ["--save", "", "--appendonly", "no"]
        : ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"];
    const args = [
      "--bind",
      this.host,
      "--port",
      String(this.port),
      "--dir",
      this.dir,
      "--daemonize",
      "no",
      "--logfile",
      "",
      "--protected-mode",
      "yes",
      ...persistence,
    ];
    const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-10_000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 15_000);
    while (!this.log.includes("Ready to accept connections")) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`redis-server exited during start-up:\n${this.log}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`redis-server did not become ready:\n${this.log}`);
      }
      await Promise.race([once(proc.stdout ?? proc, "data"), once(proc, "exit")]);
    }
    return this;
  }

  /** Stops the server (no save) and removes its directory. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = once(proc, "exit");
      proc.kill("SIGKILL");
      await exited;
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = "";
  }
}
