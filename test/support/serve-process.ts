import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;

/** A `jetq serve` child process started from source. */
export interface ServeProcess {
  child: ChildProcess;
  /** Everything it logged so far. */
  log(): string;
  /** SIGKILLs it and waits for the exit. */
  kill(): Promise<void>;
}

/** Starts `jetq serve <args>` (with more environment variables `env`) and resolves once it logs that it is ready. */
export async function startServe(
  args: string[],
  timeoutMs = 20_000,
  env: NodeJS.ProcessEnv = {},
): Promise<ServeProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", main, "serve", "--http", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, JETQ_LOG_LEVEL: "info", ...env },
  });
  let out = "";
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jetq serve not ready in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.stderr!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("jetq serve ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`jetq serve exited with ${code}:\n${out}`));
    });
  });
  await ready;
  return {
    child,
    log: () => out,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
  };
}
