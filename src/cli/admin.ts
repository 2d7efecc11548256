/**
 * `jetq queue|task|dead-letters …`: the everyday controls from a shell, against a running NATS.
 * Every command prints its answer as JSON on stdout.
 */
import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { DEFAULT_QUEUE } from "../jobs/queue.js";
import type { QueueControlCommands } from "../jobs/queue-controls.js";
import { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import { encodeTask } from "../jobs/storage/task-codec.js";
import type { Task } from "../jobs/task.js";
import { TaskEngine } from "../jobs/task-engine.js";
import { createLogger, type Logger } from "../logger.js";
import { connectNats } from "../nats/connect.js";
import { addNatsFlags, type NatsFlags, natsOptionsFromFlags } from "./nats-flags.js";

/** Where admin commands write their answers (stdout unless a test says otherwise). */
export type Output = (line: string) => void;

/** What an admin command works with: storage on an open connection, closed afterwards. */
interface AdminContext {
  storage: JetStreamStorage;
  engine: TaskEngine;
  log: Logger;
  controls(): Promise<QueueControlCommands>;
}

/** Server used when neither `-a` nor `NATS_ADDRESS` names one. */
const DEFAULT_SERVER = "nats://127.0.0.1:4222";

/** A task as the CLI prints it: its JSON wire form (docs/storage.md). */
const wireForm = (task: Task): Record<string, unknown> => JSON.parse(Buffer.from(encodeTask(task)).toString("utf8"));

function positiveInt(what: string, v: string): number {
  const n = /^\d{1,15}$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 1)) throw new ConfigError("invalid_argument", `${what} must be a positive integer, got ${v}`);
  return n;
}

async function withStorage<T>(flags: NatsFlags, run: (ctx: AdminContext) => Promise<T>): Promise<T> {
  const log = createLogger();
  const nc = await connectNats({ servers: DEFAULT_SERVER, ...natsOptionsFromFlags(flags), name: "jetq-admin" });
  try {
    const storage = await JetStreamStorage.open(nc, {}, log);
    const engine = new TaskEngine({ storage, log, defaultQueue: DEFAULT_QUEUE });
    try {
      return await run({ storage, engine, log, controls: () => engine.controls() });
    } finally {
      await engine.stop();
      storage.close();
    }
  } finally {
    await nc.drain();
  }
}

/**
 * Registers a subcommand whose action gets the admin context and the positional arguments, and
 * prints what it returns.
 */
function action<A extends unknown[]>(
  cmd: Command,
  out: Output,
  run: (ctx: AdminContext, ...args: A) => Promise<unknown>,
): Command {
  return addNatsFlags(cmd).action(async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const flags = command.optsWithGlobals() as NatsFlags;
    const result = await withStorage(flags, (ctx) => run(ctx, ...(args.slice(0, -2) as A)));
    out(JSON.stringify(result, null, 2));
  });
}

/** Registers `queue`, `task` and `dead-letters` on the program. */
export function registerAdmin(program: Command, out: Output = (l) => process.stdout.write(`${l}\n`)): void {
  const queue = program.command("queue").description("inspect and control queues");
  action(queue.command("list").description("names of all queues"), out, async ({ storage }) => storage.queueNames());
  action(
    queue.command("info <queue>").description("definition, depth, backlog by priority and controls"),
    out,
    async ({ storage }, name: string) => {
      const { stream: _s, consumers: _c, ...info } = await storage.queueInfo(name);
      return info;
    },
  );
  action(
    queue.command("pause <queue>").description("stop every worker and gateway taking its tasks"),
    out,
    async (ctx, name: string) => (await ctx.controls()).pause(name),
  );
  action(
    queue.command("resume <queue>").description("resume a paused (or held) queue"),
    out,
    async (ctx, name: string) => (await ctx.controls()).resume(name),
  );
  action(
    queue
      .command("rate-limit <queue> [limit] [intervalMs]")
      .description("set the queue-wide rate limit (task starts per interval), or with no limit remove it"),
    out,
    async (ctx, name: string, limit?: string, interval?: string) => {
      const commands = await ctx.controls();
      if (limit === undefined) return commands.setRateLimit(name, null);
      return commands.setRateLimit(name, {
        limit: positiveInt("limit", limit),
        intervalMs: positiveInt("intervalMs", interval ?? "1000"),
      });
    },
  );

  const task = program.command("task").description("inspect and cancel tasks");
  action(
    task.command("get <id>").description("a task's record (wire form) with its log lines"),
    out,
    async ({ storage }, id: string) => ({
      ...wireForm(await storage.loadTask(id)),
      logs: (await storage.logs.read(id)).map((l) => ({ at: new Date(l.at).toISOString(), line: l.line })),
    }),
  );
  action(
    task.command("cancel <id>").description("cancel a task (a running one is aborted)"),
    out,
    async (ctx, id: string) => {
      return wireForm(await ctx.engine.cancelTask(id));
    },
  );

  const dlq = program.command("dead-letters").description("tasks that failed for good, per queue");
  action(
    dlq.command("list <queue> [limit]").description("oldest first (default 100)"),
    out,
    async ({ engine }, name: string, limit?: string) =>
      engine.deadLetters.list(name, { limit: limit === undefined ? 100 : positiveInt("limit", limit) }),
  );
  action(
    dlq.command("redrive <queue> [id]").description("put one dead letter (or, without an id, all) back in the queue"),
    out,
    async ({ engine }, name: string, id?: string) =>
      id === undefined ? engine.deadLetters.redriveAll(name) : wireForm(await engine.deadLetters.redrive(name, id)),
  );
  action(
    dlq.command("purge <queue> [id]").description("delete one dead letter (or, without an id, all)"),
    out,
    async ({ engine }, name: string, id?: string) => ({ purged: await engine.deadLetters.purge(name, id) }),
  );
}
