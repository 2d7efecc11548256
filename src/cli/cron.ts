/** `jetq cron list|add|remove|pause|resume`: named task schedules, fired by jetq serve's elected task scheduler. */
import type { Command } from "commander";
import { scheduledTaskView } from "../gateway/views.js";
import { type ScheduledTask, ScheduledTasks, scheduledTaskRecurrence } from "../jobs/scheduled-tasks.js";
import { nextOccurrence } from "../recurrence.js";
import { type AdminContext, adminAction } from "./admin-context.js";
import { durationArg, intArg, jsonArg } from "./args.js";
import { table, when } from "./output.js";

/** How many next fire times are shown. */
const NEXT_RUNS = 3;

/** The next fire times of a schedule (none while it is paused). */
function nextRuns(st: ScheduledTask, now = Date.now()): number[] {
  if (st.paused) return [];
  const rec = scheduledTaskRecurrence(st);
  const runs: number[] = [];
  for (let t = nextOccurrence(rec, now, st.createdAt ?? 0); t !== undefined && runs.length < NEXT_RUNS; ) {
    runs.push(t);
    t = nextOccurrence(rec, t, st.createdAt ?? 0);
  }
  return runs;
}

const view = (st: ScheduledTask) => scheduledTaskView(st, nextRuns(st));
const schedules = async (ctx: AdminContext) => new ScheduledTasks(await ctx.storage.configBucket());

/** Registers `cron …` on the program. */
export function registerCronCommands(program: Command): void {
  const cron = program.command("cron").description("named task schedules (cron or @every) with their next runs");

  adminAction(cron.command("list").description("every task schedule with its next runs"), async (ctx) => {
    const all = await (await schedules(ctx)).list();
    const { style } = ctx.out;
    const text = table(
      style,
      ["NAME", "SCHEDULE", "TZ", "QUEUE", "TYPE", "STATUS", "NEXT RUN"],
      all.map((st) => [
        st.name,
        st.schedule,
        st.tz ?? "UTC",
        st.queue,
        st.type,
        st.paused ? style.paint("33", "paused") : style.paint("32", "active"),
        when(nextRuns(st)[0]),
      ]),
      "no task schedules",
    );
    return { json: { scheduled_tasks: all.map(view) }, text };
  });

  adminAction(
    cron
      .command("add <name> <schedule> <queue> <type> [payload]")
      .description(
        'create a task schedule: <schedule> is a cron expression (seconds first with 6 fields) or "@every 5m"',
      )
      .option("--tz <zone>", "IANA time zone of a cron schedule (default UTC)")
      .option("--deadline <duration>", "each task's deadline: its tick plus this")
      .option("--max-tries <n>", "tries of each task (default the queue's)"),
    async (ctx, { args, opts }) => {
      const [name, schedule, queue, type, payload] = args as [string, string, string, string, string | undefined];
      await ctx.storage.getQueue(queue);
      const st = await (await schedules(ctx)).create({
        name,
        schedule,
        queue,
        type,
        ...(payload === undefined ? {} : { payload: jsonArg("the payload", payload) }),
        ...(typeof opts.tz === "string" ? { tz: opts.tz } : {}),
        ...(typeof opts.deadline === "string" ? { deadlineMs: durationArg("--deadline", opts.deadline) } : {}),
        ...(typeof opts.maxTries === "string" ? { maxTries: intArg("--max-tries", opts.maxTries) } : {}),
      });
      return { json: { scheduled_task: view(st) }, text: `created ${name}; next run ${when(nextRuns(st)[0])}` };
    },
  );

  adminAction(cron.command("remove <name>").description("delete a task schedule"), async (ctx, { args }) => {
    await (await schedules(ctx)).remove(String(args[0]));
    return { json: { name: String(args[0]) }, text: `removed ${args[0]}` };
  });

  for (const [verb, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const) {
    adminAction(
      cron
        .command(`${verb} <name>`)
        .description(
          paused ? "stop a schedule creating tasks until resumed" : "let a paused schedule create tasks again",
        ),
      async (ctx, { args }) => {
        const st = await (await schedules(ctx)).setPaused(String(args[0]), paused);
        return { json: { scheduled_task: view(st) }, text: `${paused ? "paused" : "resumed"} ${st.name}` };
      },
    );
  }
}
