/**
 * What every admin command (`jetq queue|task|schedule|cron|dead-letters|info …`) shares: the NATS
 * connection flags, `--json`, one connection and storage per run, and how an answer is printed.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Command } from "commander";
import { Client } from "../jobs/client.js";
import { DEFAULT_QUEUE } from "../jobs/queue.js";
import { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import { TaskEngine } from "../jobs/task-engine.js";
import { createLogger, type Logger } from "../logger.js";
import { connectNats } from "../nats/connect.js";
import { EXIT } from "./exit-codes.js";
import { addNatsFlags, type NatsFlags, natsOptionsFromFlags } from "./nats-flags.js";
import { jsonText, type Output, stdoutOutput } from "./output.js";

/** Server used when neither `-a`, `NATS_ADDRESS` nor a NATS context names one. */
export const DEFAULT_SERVER = "nats://127.0.0.1:4222";

/** What a command's action works with; the connection is closed after it returns. */
export interface AdminContext {
  nc: NatsConnection;
  storage: JetStreamStorage;
  /** The task engine on that storage: enqueue path, controls, cancellations, dead letters. */
  engine: TaskEngine;
  out: Output;
  /** Warnings for the user (stderr). */
  log: Logger;
  /** A library client bound to an existing queue (one per queue, closed afterwards). @throws NotFoundError */
  client(queue: string): Promise<Client>;
}

/**
 * What an action answers: the JSON document of `--json`, the text for people, and the exit code.
 * Commands that print as they go (watch, process) answer nothing.
 */
export interface Answer {
  json: unknown;
  /** Printed without `--json`; defaults to the JSON. */
  text?: string;
  /** @defaultValue 0 */
  exitCode?: number;
}

/** The flags every admin command has. */
export interface AdminFlags extends NatsFlags {
  json?: boolean;
}

/** The positional arguments (strings, or lists for variadic ones) and the command's own options. */
export type ActionArgs = { args: (string | string[] | undefined)[]; opts: Record<string, unknown> };

/** Connects as the flags say, opens storage, runs `work`, then closes everything. */
export async function withAdminContext<T>(flags: AdminFlags, work: (ctx: AdminContext) => Promise<T>): Promise<T> {
  // Warnings of a command are for the person who ran it: readable lines even when stderr is not a terminal.
  const log = createLogger({
    level: process.env.JETQ_LOG_LEVEL ?? "warn",
    format: process.env.JETQ_LOG_FORMAT ?? "pretty",
  });
  const nats = natsOptionsFromFlags(flags, { selectedContext: true });
  if (!nats.servers && nats.natsContext === undefined) nats.servers = DEFAULT_SERVER;
  const nc = await connectNats({ ...nats, name: "jetq-cli" });
  const clients = new Map<string, Promise<Client>>();
  let storage: JetStreamStorage | undefined;
  let engine: TaskEngine | undefined;
  try {
    storage = await JetStreamStorage.open(nc, {}, log);
    engine = new TaskEngine({ storage, log, defaultQueue: DEFAULT_QUEUE });
    const ctx: AdminContext = {
      nc,
      storage,
      engine,
      out: stdoutOutput(flags.json === true),
      log,
      client: (queue) => {
        let c = clients.get(queue);
        if (!c) {
          c = Client.connect({
            connection: nc,
            queue: { name: queue, noCreate: true },
            skipStorageInit: true,
            logger: log,
          });
          clients.set(queue, c);
        }
        return c;
      },
    };
    return await work(ctx);
  } finally {
    for (const c of clients.values()) await (await c.catch(() => undefined))?.close();
    await engine?.stop();
    storage?.close();
    await nc.drain().catch(() => undefined);
  }
}

/**
 * Gives `cmd` the connection flags and `--json`, and an action that runs `run` in an
 * {@link AdminContext}, prints its answer and sets the exit code.
 */
export function adminAction(
  cmd: Command,
  run: (ctx: AdminContext, a: ActionArgs) => Promise<Answer | undefined>,
): Command {
  addNatsFlags(cmd).option("--json", "print one JSON document (the REST API's snake_case shape) instead of text");
  return cmd.action(async (...all: unknown[]) => {
    const command = all[all.length - 1] as Command;
    const args = all.slice(0, -2) as ActionArgs["args"];
    const flags = command.optsWithGlobals() as AdminFlags & Record<string, unknown>;
    const answer = await withAdminContext(flags, (ctx) => run(ctx, { args, opts: command.opts() }));
    if (!answer) return;
    const out = stdoutOutput(flags.json === true);
    out.print(out.json || answer.text === undefined ? jsonText(answer.json) : answer.text);
    if (answer.exitCode !== undefined && answer.exitCode !== EXIT.ok) process.exitCode = answer.exitCode;
  });
}
