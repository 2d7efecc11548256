/** `jetq task process`: a worker that hands each task to an external command (as `ajc task process` does). */
import type { Command } from "commander";
import { JetqError } from "../errors.js";
import { Client } from "../jobs/client.js";
import { externalProcess } from "../jobs/handlers/external-process.js";
import { Router } from "../jobs/router.js";
import { createLogger } from "../logger.js";
import { adminAction } from "./admin-context.js";
import { durationArg, intArg } from "./args.js";
import { paintState, when } from "./output.js";

/** Registers `task process` on the `task` command. */
export function registerTaskProcess(task: Command): void {
  adminAction(
    task
      .command("process <type> <queue> <concurrency> <command> [args...]")
      .description(
        "run <command> for each <type> task of <queue>, <concurrency> at a time: the task's JSON on stdin, " +
          "its stdout the result, a non-zero exit a failed try (put -- before arguments that start with -)",
      )
      .option("--retry-policy <policy>", "back-off between tries: 1m, 10m, 1h or exponential", "10m")
      .option("--shutdown-timeout <duration>", "how long running commands may finish after Ctrl-C", "30s"),
    async (ctx, { args, opts }) => {
      const [type, queue, concurrency, command, rest] = args as [string, string, string, string, string[] | undefined];
      const log = createLogger({ level: process.env.JETQ_LOG_LEVEL ?? "info" });
      const client = await Client.connect({
        connection: ctx.nc,
        queue: { name: queue, noCreate: true },
        skipStorageInit: true,
        concurrency: intArg("concurrency", concurrency),
        retryPolicy: String(opts.retryPolicy),
        shutdownTimeoutMs: durationArg("--shutdown-timeout", String(opts.shutdownTimeout)),
        logger: log,
      });
      const run = externalProcess(command, { args: rest ?? [] });
      const { out } = ctx;
      const report = (id: string, outcome: string, ms: number, error?: string) =>
        out.print(
          out.json
            ? JSON.stringify({ task_id: id, type, outcome, ms, ...(error ? { error } : {}) })
            : `${out.style.paint("2", when(Date.now()) ?? "")} ${id} ${paintState(out.style, outcome)} ${ms}ms${
                error ? ` ${out.style.paint("31", error)}` : ""
              }`,
        );
      const router = new Router().handle(type, async (t, hc) => {
        const t0 = performance.now();
        try {
          const result = await run(t, hc);
          report(t.id, "complete", Math.round(performance.now() - t0));
          return result;
        } catch (err) {
          const code = err instanceof JetqError ? err.code : "failed";
          report(t.id, "failed", Math.round(performance.now() - t0), `${(err as Error).message} [${code}]`);
          throw err;
        }
      });
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        process.stderr.write(
          `processing ${type} tasks of ${queue} with ${command}, ${concurrency} at a time (Ctrl-C to stop)\n`,
        );
        await client.run(router, { signal: ac.signal });
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        await client.close();
      }
      return undefined;
    },
  );
}
