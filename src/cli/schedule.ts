/**
 * `jetq schedule list|get|add|cancel`: delayed and recurring messages, through the scheduler's
 * request API (`jetq serve` must run on the NATS). Delayed tasks are shown apart from messages.
 */
import type { Command } from "commander";
import type { Style } from "../ansi.js";
import { ValidationError } from "../errors.js";
import { delayedTaskIdOf } from "../jobs/storage/layout.js";
import { MAX_LIST } from "../scheduler/schedule-api.js";
import { ScheduleClient } from "../scheduler/schedule-client.js";
import type { ScheduleView } from "../scheduler/schedule-commands.js";
import { adminAction } from "./admin-context.js";
import { collect, intArg, readInput } from "./args.js";
import { fields, table, when } from "./output.js";

const KINDS = ["all", "messages", "tasks"] as const;

/** The queue and type of a delayed task, from the task carried in its schedule. */
function delayedTask(s: ScheduleView): { queue?: string; type?: string } {
  try {
    const t = JSON.parse(Buffer.from(s.payload_b64, "base64").toString("utf8")) as { queue?: string; type?: string };
    return { ...(t.queue ? { queue: t.queue } : {}), ...(t.type ? { type: t.type } : {}) };
  } catch {
    return {};
  }
}

const repeats = (s: ScheduleView) =>
  s.cron ? `cron ${s.cron}${s.tz ? ` (${s.tz})` : ""}` : s.every_ms ? `every ${s.every_ms}ms` : "once";

function listText(style: Style, list: ScheduleView[], next: number | undefined, kind: string): string {
  const tasks = list.filter((s) => s.kind === "delayed_task");
  const messages = list.filter((s) => s.kind === "message");
  const parts: string[] = [];
  if (kind !== "messages")
    parts.push(
      `${style.paint("1", "Delayed tasks")}\n${table(
        style,
        ["TASK", "QUEUE", "TYPE", "DUE"],
        tasks.map((s) => {
          const t = delayedTask(s);
          return [s.task_id, t.queue, t.type, when(s.due_ms)];
        }),
      )}`,
    );
  if (kind !== "tasks")
    parts.push(
      `${style.paint("1", "Messages")}\n${table(
        style,
        ["ID", "SUBJECT", "DUE", "REPEATS"],
        messages.map((s) => [s.id, s.subject, when(s.due_ms), repeats(s)]),
      )}`,
    );
  if (next !== undefined) parts.push(style.paint("2", `more: --after ${next}`));
  return parts.join("\n\n");
}

/** Registers `schedule …` on the program. */
export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command("schedule")
    .description("delayed and recurring messages (Gozo), and delayed tasks, through jetq serve's scheduler");

  adminAction(
    schedule
      .command("list")
      .description("pending schedules: delayed tasks and messages apart, soonest stored first")
      .option("--kind <kind>", `which: ${KINDS.join(", ")}`, "all")
      .option("--limit <n>", `page size, 1-${MAX_LIST}`, "100")
      .option("--after <cursor>", "continue after a previous page (its next)"),
    async (ctx, { opts }) => {
      const kind = String(opts.kind);
      if (!(KINDS as readonly string[]).includes(kind))
        throw new ValidationError("invalid_argument", `--kind must be one of ${KINDS.join(", ")}`);
      const page = await new ScheduleClient(ctx.nc).list(
        intArg("--limit", String(opts.limit)),
        opts.after === undefined ? 0 : intArg("--after", String(opts.after), 0),
      );
      const wanted =
        kind === "all"
          ? page.schedules
          : page.schedules.filter((s) => (kind === "tasks") === (s.kind === "delayed_task"));
      return {
        json: { schedules: wanted, ...(page.next === undefined ? {} : { next: page.next }) },
        text: listText(ctx.out.style, wanted, page.next, kind),
      };
    },
  );

  adminAction(schedule.command("get <id>").description("a pending schedule"), async (ctx, { args }) => {
    const s = await new ScheduleClient(ctx.nc).get(String(args[0]));
    const { style } = ctx.out;
    const text = fields(style, [
      ["id", style.paint("1", s.id)],
      ["kind", s.kind === "delayed_task" ? `delayed task ${s.task_id}` : "message"],
      ["subject", s.subject],
      ["due", when(s.due_ms)],
      ["repeats", repeats(s)],
      ["created", when(s.created)],
      ["headers", Object.keys(s.headers).length ? JSON.stringify(s.headers) : undefined],
      ["payload", s.payload ?? `${s.payload_b64} (base64)`],
    ]);
    return { json: { schedule: s }, text };
  });

  adminAction(
    schedule
      .command("add <subject> [when] [payload]")
      .description("publish [payload] to <subject> at [when] (+10s, +5m, epoch seconds, RFC 3339), or repeatedly")
      .option("--id <id>", "schedule id (a schedule with it is replaced)")
      .option("--cron <expression>", "repeat on a cron expression (seconds first with 6 fields)")
      .option("--tz <zone>", "IANA time zone of --cron")
      .option("--every <duration>", "repeat every duration, e.g. 30s")
      .option("-f, --file <file>", "read the payload from this file, or - for stdin")
      .option("-H, --header <name=value>", "a header of the fired message (repeatable)", collect),
    async (ctx, { args, opts }) => {
      const [subject, whenArg, payloadArg] = args as [string, string | undefined, string | undefined];
      if (payloadArg !== undefined && opts.file !== undefined)
        throw new ValidationError("invalid_argument", "give the payload as an argument or --file, not both");
      const headers: Record<string, string[]> = {};
      for (const h of (opts.header as string[] | undefined) ?? []) {
        const eq = h.indexOf("=");
        if (eq < 1) throw new ValidationError("invalid_argument", `--header needs name=value, got ${h}`);
        const name = h.slice(0, eq);
        headers[name] = [...(headers[name] ?? []), h.slice(eq + 1)];
      }
      const spec: Record<string, unknown> = { subject };
      if (whenArg !== undefined) spec.when = whenArg;
      for (const k of ["id", "cron", "tz", "every"] as const) if (typeof opts[k] === "string") spec[k] = opts[k];
      const payload = typeof opts.file === "string" ? readInput(opts.file) : payloadArg;
      if (payload !== undefined) spec.payload = payload;
      if (Object.keys(headers).length > 0) spec.headers = headers;
      const s = await new ScheduleClient(ctx.nc).add(spec);
      return { json: { schedule: s }, text: `scheduled ${s.id} for ${when(s.due_ms)}` };
    },
  );

  adminAction(
    schedule
      .command("cancel <id>")
      .description("cancel a pending schedule (a delayed task's schedule cancels the task: state cancelled)"),
    async (ctx, { args }) => {
      const id = String(args[0]);
      const taskId = delayedTaskIdOf(id);
      if (taskId !== undefined) {
        await ctx.engine.cancelTask(taskId);
        return { json: { id }, text: `cancelled task ${taskId}` };
      }
      await new ScheduleClient(ctx.nc).cancel(id);
      return { json: { id }, text: `cancelled ${id}` };
    },
  );
}
