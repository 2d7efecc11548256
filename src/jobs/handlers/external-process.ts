import { spawn } from "node:child_process";
import { JetqError } from "../../errors.js";
import type { Handler } from "../router.js";
import { encodeTask } from "../storage/task-codec.js";

/** Options of {@link externalProcess}. */
export interface ExternalProcessOptions {
  /** Arguments passed to the command. @defaultValue `[]` */
  args?: string[];
  /** Environment of the process. @defaultValue the worker's environment */
  env?: NodeJS.ProcessEnv;
  /** Working directory. @defaultValue the worker's */
  cwd?: string;
  /** Most bytes of stdout kept as the result (and of stderr kept for the error). @defaultValue 1 MiB */
  maxOutputBytes?: number;
}

/** An external command failed: it could not start, exited non-zero, or was killed. */
export class ExternalCommandError extends JetqError {
  constructor(
    message: string,
    /** Exit code, when it exited. */
    readonly exitCode: number | null,
    /** What it wrote to stderr (truncated). */
    readonly stderr: string,
  ) {
    super("external_command_failed", message);
  }
}

/**
 * A handler that runs `command` with the task as JSON (the wire form) on stdin. Its stdout becomes
 * the result (parsed as JSON when it is JSON, else the text); a non-zero exit fails the try with
 * its stderr. When the run time ends (or the worker aborts) the whole process group is killed.
 */
export function externalProcess(command: string, opts: ExternalProcessOptions = {}): Handler {
  const limit = opts.maxOutputBytes ?? 1024 * 1024;
  return (task, ctx) =>
    new Promise((resolve, reject) => {
      const child = spawn(command, opts.args ?? [], {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        detached: true, // own process group, so a kill reaches its children too
        stdio: ["pipe", "pipe", "pipe"],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      child.stdout.on("data", (b: Buffer) => {
        if (outBytes < limit) out.push(b.subarray(0, limit - outBytes));
        outBytes += b.length;
      });
      child.stderr.on("data", (b: Buffer) => {
        if (errBytes < limit) err.push(b.subarray(0, limit - errBytes));
        errBytes += b.length;
      });
      const killGroup = () => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      };
      ctx.signal.addEventListener("abort", killGroup, { once: true });
      child.stdin.on("error", () => undefined); // a command that ignores stdin may close it early
      child.stdin.end(encodeTask(task));
      child.on("error", (e) => {
        ctx.signal.removeEventListener("abort", killGroup);
        reject(new ExternalCommandError(`could not run ${command}: ${e.message}`, null, ""));
      });
      child.on("close", (code, signal) => {
        ctx.signal.removeEventListener("abort", killGroup);
        const stderr = Buffer.concat(err).toString("utf8");
        if (code !== 0) {
          const why = signal ? `was killed by ${signal}` : `exited with ${code}`;
          reject(
            new ExternalCommandError(
              `${command} ${why}${stderr ? `: ${stderr.trim().slice(0, 500)}` : ""}`,
              code,
              stderr,
            ),
          );
          return;
        }
        const text = Buffer.concat(out).toString("utf8");
        try {
          resolve(JSON.parse(text));
        } catch {
          resolve(text);
        }
      });
    });
}
