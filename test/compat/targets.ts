/**
 * The programs the compatibility suite runs its tests against: jetq (`jetq serve`, from source) and
 * the real peer (emq, Gozo) when scripts/bootstrap.mjs could build it. Each is a child process on
 * loopback that can be restarted on the same address, to check what survives a restart.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PeerProcess, waitForHttp } from "../../bench/peers/peer-process.js";
import { findPeer, type PeerTool } from "../../bench/peers/tools.js";
import { freePort } from "../../src/nats/nats-server-launcher.js";

const SERVE = new URL("../../src/cli/main.ts", import.meta.url).pathname;

/** A program under test. */
export interface Target {
  /** `jetq` or the peer's name. */
  name: string;
  /** True for jetq, which keeps what it accepted across restarts. */
  isJetq: boolean;
  /** The HTTP base URL (emq-style targets). */
  url: string;
  start(): Promise<void>;
  /** Stops the program (SIGTERM) and starts it again on the same address. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A peer that could not be built: the reason, printed where its tests are skipped. */
export function peerSkip(tool: PeerTool): string | false {
  const p = findPeer(tool);
  if ("path" in p) return false;
  process.stderr.write(`[compat] real ${tool} tests skipped: ${p.reason}\n`);
  return p.reason;
}

class ProcessTarget implements Target {
  private proc?: PeerProcess;
  private dir = "";

  constructor(
    readonly name: string,
    readonly isJetq: boolean,
    readonly url: string,
    private readonly spawnIt: (cwd: string) => PeerProcess,
    private readonly ready: (p: PeerProcess) => Promise<void>,
  ) {}

  async start(): Promise<void> {
    // A scratch working directory: Gozo reads ./gozo.env, jetq serve's defaults point at ./.jetq.
    this.dir ||= await mkdtemp(join(tmpdir(), `jetq-compat-${this.name}-`));
    this.proc = this.spawnIt(this.dir);
    await this.ready(this.proc);
  }

  async restart(): Promise<void> {
    await this.proc?.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** `jetq serve -a <nats>` with its HTTP gateway on a free loopback port. */
export async function jetqServe(natsUrl: string): Promise<Target> {
  const port = await freePort();
  return new ProcessTarget(
    "jetq",
    true,
    `http://127.0.0.1:${port}`,
    (cwd) =>
      new PeerProcess(
        "jetq serve",
        process.execPath,
        ["--import", import.meta.resolve("tsx"), SERVE, "serve", "-a", natsUrl, "--http", `127.0.0.1:${port}`],
        { cwd, env: { JETQ_LOG_LEVEL: "info" } },
      ),
    async (p) => {
      await p.waitFor(/jetq serve ready/, 60_000);
    },
  );
}

/** The real emq on a free loopback port (in memory: a restart forgets everything). */
export async function realEmq(): Promise<Target> {
  const bin = findPeer("emq");
  if (!("path" in bin)) throw new Error(bin.reason);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return new ProcessTarget(
    "emq",
    false,
    url,
    (cwd) => new PeerProcess("emq", bin.path, ["-addr", `127.0.0.1:${port}`], { cwd }),
    (p) => waitForHttp(`${url}/queues/`, 15_000, p),
  );
}

/**
 * The real Gozo connected to `natsUrl`. It says nothing when it is ready, so `ready` is the caller's
 * probe (a schedule due now coming back).
 */
export async function realGozo(natsUrl: string, ready: () => Promise<void>): Promise<Target> {
  const bin = findPeer("gozo");
  if (!("path" in bin)) throw new Error(bin.reason);
  return new ProcessTarget(
    "gozo",
    false,
    "",
    (cwd) => new PeerProcess("gozo", bin.path, ["-a", natsUrl], { cwd, env: { NATS_ADDRESS: natsUrl } }),
    () => ready(),
  );
}
