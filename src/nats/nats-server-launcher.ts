import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { ConfigError } from "../errors.js";
import { type NatsServerBinary, resolveNatsServer } from "./nats-server-binary.js";

/** Options for {@link NatsServerLauncher}. */
export interface NatsServerOptions {
  /** Directory for JetStream files. @defaultValue a fresh temp dir, removed on stop */
  storeDir?: string;
  /** Client port. @defaultValue a free port on 127.0.0.1 */
  port?: number;
  /** Host to bind. @defaultValue `"127.0.0.1"` */
  host?: string;
  /**
   * Path to the `nats-server` binary (or a command on PATH).
   * @defaultValue `$JETQ_NATS_SERVER`, else the newest of the project's `.tools/bin/nats-server` and
   * `nats-server` on PATH (see {@link resolveNatsServer})
   */
  binary?: string;
  /** Server name (must be unique within a cluster). @defaultValue `"jetq"` */
  serverName?: string;
  /** Cluster settings; set by {@link NatsCluster}. */
  cluster?: { name: string; port: number; routes: number[] };
  /** How long to wait for the server to accept connections. @defaultValue 15000 ms */
  startTimeoutMs?: number;
  /** More configuration appended to the server's, e.g. `authorization { token: "s3cret" }`. @defaultValue none */
  extraConfig?: string;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const addr = srv.address();
  srv.close();
  await once(srv, "close");
  if (addr === null || typeof addr === "string") throw new ConfigError("no_port", "could not allocate a port");
  return addr.port;
}

/**
 * Resolves the `nats-server` that would run for `binary` (see {@link resolveNatsServer}) and returns
 * its version line, e.g. `"nats-server: v2.14.10"`.
 * @throws ConfigError (`nats_server_missing`) naming what to install when none runs
 */
export function assertNatsServerAvailable(binary?: string): string {
  return `nats-server: v${resolveNatsServer(binary).version}`;
}

/**
 * Runs one `nats-server -js` process on loopback with its own store directory.
 * `start()` resolves once the server accepts clients; `stop()` terminates it and removes a temp store.
 */
export class NatsServerLauncher {
  readonly host: string;
  port = 0;
  private proc?: ChildProcess;
  private storeDir = "";
  private ownsStore = false;
  private log = "";
  private resolved?: NatsServerBinary;
  private extraConfig: string;

  constructor(private readonly opts: NatsServerOptions = {}) {
    this.host = opts.host ?? "127.0.0.1";
    this.extraConfig = opts.extraConfig ?? "";
  }

  /** The server's name (`server_name`, the name cluster info reports leaders by). */
  get serverName(): string {
    return this.opts.serverName ?? "jetq";
  }

  /** The URL clients connect to, e.g. `nats://127.0.0.1:4222`. */
  get url(): string {
    return `nats://${this.host}:${this.port}`;
  }

  /** The last output of the server, for diagnostics. */
  get output(): string {
    return this.log;
  }

  /** Resolves when the server writes more log output (or after 1 s). */
  nextOutput(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.proc?.stderr?.once("data", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The binary this launcher runs and its version (resolved on first use). */
  get binary(): NatsServerBinary {
    this.resolved ??= resolveNatsServer(this.opts.binary);
    return this.resolved;
  }

  /** The version of the server this launcher runs, e.g. `"2.14.10"`. */
  get version(): string {
    return this.binary.version;
  }

  /** True while the server process runs. */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts the server and waits until it is ready. */
  async start(): Promise<this> {
    const binary = this.binary.path;
    if (!this.storeDir) {
      this.ownsStore = this.opts.storeDir === undefined;
      this.storeDir = this.opts.storeDir ?? (await mkdtemp(join(tmpdir(), "jetq-nats-")));
    }
    await mkdir(this.storeDir, { recursive: true });
    if (this.port === 0) this.port = this.opts.port || (await freePort());
    const conf = await this.writeConfig();
    this.log = "";
    const proc = spawn(binary, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 15_000);
    // One exit listener for the whole start-up (2.14 writes many lines before it is ready).
    const exited = once(proc, "exit").then(() => undefined);
    while (!this.log.includes("Server is ready")) {
      if (!this.running)
        throw new ConfigError("nats_server_failed", `nats-server exited during start-up:\n${this.log}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new ConfigError("nats_server_timeout", `nats-server did not become ready:\n${this.log}`);
      }
      await Promise.race([once(proc.stderr ?? proc, "data"), exited]);
    }
    return this;
  }

  /**
   * Replaces the {@link NatsServerOptions.extraConfig} text and has the running server reload its
   * configuration (SIGHUP); resolves once it reports the reload. Changed permissions apply to the
   * clients already connected.
   */
  async reload(extraConfig: string): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) throw new ConfigError("nats_server_stopped", "nats-server is not running");
    this.extraConfig = extraConfig;
    await this.writeConfig();
    this.log = "";
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        proc.stderr?.off("data", onData);
        proc.off("exit", onExit);
        if (err) reject(err);
        else resolve();
      };
      const failed = () => new ConfigError("nats_server_reload_failed", `nats-server did not reload:\n${this.log}`);
      const onData = () => {
        if (this.log.includes("Reloaded server configuration")) done();
      };
      const onExit = () => done(failed());
      const timer = setTimeout(() => done(failed()), this.opts.startTimeoutMs ?? 15_000);
      proc.stderr?.on("data", onData);
      proc.once("exit", onExit);
      proc.kill("SIGHUP");
    });
  }

  private async writeConfig(): Promise<string> {
    const conf = join(this.storeDir, "nats-server.conf");
    await writeFile(conf, this.config());
    return conf;
  }

  private config(): string {
    const name = this.serverName;
    const lines = [
      `server_name: "${name}"`,
      `listen: "${this.host}:${this.port}"`,
      `jetstream { store_dir: ${JSON.stringify(this.storeDir)} }`,
    ];
    const c = this.opts.cluster;
    if (c) {
      lines.push(
        `cluster { name: "${c.name}", listen: "${this.host}:${c.port}", routes: [${c.routes
          .map((p) => `"nats-route://${this.host}:${p}"`)
          .join(", ")}] }`,
      );
    }
    if (this.extraConfig) lines.push(this.extraConfig);
    return `${lines.join("\n")}\n`;
  }

  /** Kills the process at once (as a crash would), keeping the store for a later {@link start}. */
  async kill(): Promise<void> {
    await this.terminate("SIGKILL");
  }

  /** Stops the server gracefully; removes the store when it was a temp dir. */
  async stop(): Promise<void> {
    await this.terminate("SIGTERM");
    if (this.ownsStore && this.storeDir) {
      await rm(this.storeDir, { recursive: true, force: true });
      this.storeDir = "";
    }
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = once(proc, "exit");
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Reads the JetStream store directory path (for tests that inspect files). */
  get store(): string {
    return this.storeDir;
  }
}

/**
 * Three `nats-server` processes on loopback routed into one JetStream cluster, for replica tests.
 */
export class NatsCluster {
  readonly nodes: NatsServerLauncher[] = [];

  /** Client URLs of all nodes (pass all of them to a connection). */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** Starts `size` nodes (default 3) and waits until all are ready. */
  async start(size = 3): Promise<this> {
    const routePorts = await Promise.all(Array.from({ length: size }, freePort));
    for (let i = 0; i < size; i++) {
      this.nodes.push(
        new NatsServerLauncher({
          serverName: `jetq-${i + 1}`,
          cluster: { name: "jetq", port: routePorts[i] ?? 0, routes: routePorts.filter((_, j) => j !== i) },
        }),
      );
    }
    await Promise.all(this.nodes.map((n) => n.start()));
    await this.waitForMetaLeader();
    return this;
  }

  /**
   * Waits until every node knows the JetStream meta leader, so the JetStream API answers whichever
   * node a client connects to (a node that has not heard of the leader yet lets requests time out).
   * Each node is asked (an account info request on a connection to it): a node that joined after
   * the election does not always log the leader (seen on 2.9).
   */
  private async waitForMetaLeader(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(this.nodes);
    let lastError = "";
    while (pending.size > 0) {
      for (const node of [...pending]) {
        const nc = await connect({ servers: node.url, timeout: 2000, reconnect: false }).catch((err: Error) => {
          lastError = `${node.serverName}: ${err.message}`;
          return undefined;
        });
        if (!nc) continue;
        try {
          await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
          pending.delete(node);
        } catch (err) {
          lastError = `${node.serverName}: ${(err as Error).message}`;
        } finally {
          await nc.close();
        }
      }
      if (pending.size === 0) return;
      if (Date.now() > deadline) {
        const tails = [...pending].map((n) => `${n.serverName}: ${n.output.split("\n").slice(-6).join(" | ")}`);
        throw new ConfigError(
          "nats_cluster_timeout",
          `the cluster's JetStream did not answer on every node within ${timeoutMs} ms (${lastError}):\n${tails.join("\n")}`,
        );
      }
      await Promise.race([...[...pending].map((n) => n.nextOutput()), new Promise((r) => setTimeout(r, 250))]);
    }
  }

  /** Stops every node. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
