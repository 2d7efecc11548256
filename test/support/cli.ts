import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;

/** What a finished `jetq` run printed and how it exited. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link jetq}. */
export interface CliOptions {
  /** Written to the command's stdin (then closed). */
  input?: string;
  /** More environment variables. */
  env?: NodeJS.ProcessEnv;
}

const baseEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...extra };
  for (const k of Object.keys(env)) if (k.startsWith("NATS_") && !(k in extra)) delete env[k];
  delete env.JETQ_LOG_LEVEL;
  return env;
};

/** Runs `jetq <args>` as a child process (from source) to its end. */
export async function jetq(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ["--import", "tsx", main, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: baseEnv(opts.env),
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(opts.input ?? "");
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}

/** Runs `jetq <args> --json`, checks it exited with `code` (default 0), and parses its stdout. */
export async function jetqJson<T = Record<string, unknown>>(
  args: string[],
  code = 0,
  opts: CliOptions = {},
): Promise<T> {
  const r = await jetq([...args, "--json"], opts);
  if (r.code !== code)
    throw new Error(`jetq ${args.join(" ")} exited with ${r.code}, not ${code}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A `jetq` command that keeps running (watch, process), started from source. */
export interface CliProcess {
  child: ChildProcess;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Resolves once stderr contains `text` (rejects when the process exits first or after `timeoutMs`). */
  stderrIncludes(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves once stdout has at least `n` lines. */
  lines(n: number, timeoutMs?: number): Promise<string[]>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once it ends on its own. */
  exited(): Promise<number | null>;
}

/** Starts `jetq <args>` and returns at once. */
export function startJetq(args: string[], opts: CliOptions = {}): CliProcess {
  const child = spawn(process.execPath, ["--import", "tsx", main, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: baseEnv(opts.env),
  });
  let out = "";
  let err = "";
  const exit = once(child, "close").then(([code]) => code as number | null);
  const waitFor = (ok: () => boolean, what: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (ok()) return resolve();
      const timer = setTimeout(
        () => done(new Error(`${what} not seen in ${timeoutMs} ms:\n${out}\n${err}`)),
        timeoutMs,
      );
      const check = () => {
        if (ok()) done();
      };
      const done = (e?: Error) => {
        clearTimeout(timer);
        child.stdout!.off("data", check);
        child.stderr!.off("data", check);
        if (e) reject(e);
        else resolve();
      };
      child.stdout!.on("data", check);
      child.stderr!.on("data", check);
      void exit.then(() => (ok() ? done() : done(new Error(`exited before ${what}:\n${out}\n${err}`))));
    });
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const lines = () => out.split("\n").filter((l) => l !== "");
  return {
    child,
    stdout: () => out,
    stderrIncludes: (text, timeoutMs = 30_000) => waitFor(() => err.includes(text), JSON.stringify(text), timeoutMs),
    async lines(n, timeoutMs = 30_000) {
      await waitFor(() => lines().length >= n, `${n} lines`, timeoutMs);
      return lines();
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
    exited: () => exit,
  };
}
