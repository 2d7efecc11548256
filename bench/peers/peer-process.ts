/**
 * A peer program (emq, Gozo, our asyncjobs program) run as a child process on loopback: its output is
 * kept for diagnostics and for line-based protocols; `stop()` ends it (SIGTERM, then SIGKILL).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { sleep } from "../clock.js";

/** One running peer process. */
export class PeerProcess {
  private readonly proc: ChildProcess;
  private out = "";
  private readonly waiters: (() => void)[] = [];

  /** Starts `command args` in `cwd` (a scratch directory, so a peer reads no stray config files). */
  constructor(
    readonly name: string,
    command: string,
    args: string[],
    opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: boolean } = {},
  ) {
    this.proc = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.out = (this.out + chunk.toString()).slice(-50_000);
      for (const w of this.waiters.splice(0)) w();
    };
    this.proc.stdout?.on("data", keep);
    this.proc.stderr?.on("data", keep);
    this.proc.once("exit", () => {
      for (const w of this.waiters.splice(0)) w();
    });
    this.proc.once("error", (err) => keep(Buffer.from(`\n${err.message}\n`)));
  }

  /** What the process wrote so far (stdout and stderr, the last 50 kB). */
  get output(): string {
    return this.out;
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Writes a line to the process's stdin (started with `stdin: true`). */
  send(line: string): void {
    this.proc.stdin?.write(`${line}\n`);
  }

  /**
   * Resolves with the first match of `re` in the output once it appears. @throws Error with the
   * output when the process exits first or `timeoutMs` passes
   */
  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (!this.running)
        throw new Error(
          `${this.name} exited (${this.proc.exitCode ?? this.proc.signalCode}):\n${this.out.slice(-2000)}`,
        );
      const left = end - Date.now();
      if (left <= 0) throw new Error(`${this.name}: ${re} not seen within ${timeoutMs} ms:\n${this.out.slice(-2000)}`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(Math.min(left, 1000))]);
    }
  }

  /** Resolves when the process has exited by itself, or after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<void> {
    if (!this.running) return;
    await Promise.race([once(this.proc, "exit"), sleep(timeoutMs)]);
  }

  /** Stops the process (SIGTERM, SIGKILL after 10 s) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    const exited = once(this.proc, "exit");
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Resolves once `url` answers any HTTP status (the server listens). @throws Error after `timeoutMs` */
export async function waitForHttp(url: string, timeoutMs: number, peer?: PeerProcess): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch (err) {
      if (peer && !peer.running) throw new Error(`${peer.name} exited:\n${peer.output.slice(-2000)}`);
      if (Date.now() > end) throw new Error(`${url} did not answer within ${timeoutMs} ms: ${(err as Error).message}`);
      await sleep(20);
    }
  }
}
