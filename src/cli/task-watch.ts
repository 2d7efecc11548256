/** `jetq task watch`: task state changes (and with `--all` progress, logs, queue events) as they happen. */
import type { Command } from "commander";
import type { Style } from "../ansi.js";
import { eventView } from "../gateway/views.js";
import { allEvents, taskEvents } from "../jobs/event-stream.js";
import { type JetqEvent, QUEUE_EVENT, TASK_LOG_EVENT, TASK_PROGRESS_EVENT, TASK_STATE_EVENT } from "../jobs/events.js";
import { validateId, validateTaskType } from "../jobs/names.js";
import { isFinalState } from "../jobs/task.js";
import { adminAction } from "./admin-context.js";
import { intArg } from "./args.js";
import { paintState } from "./output.js";

const two = (n: number, w = 2) => String(n).padStart(w, "0");
const clock = (ms: number) => {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${two(d.getMilliseconds(), 3)}`;
};

/** One event as a line for people: time, queue, task, type, then what happened. */
function eventLine(style: Style, e: JetqEvent): string {
  const head = `${style.paint("2", clock(e.timestamp))} ${e.queue}`;
  switch (e.type) {
    case TASK_STATE_EVENT: {
      const tries = e.tries > 0 ? style.paint("2", ` try ${e.tries}`) : "";
      const err =
        e.lastError && !["complete", "active", "cancelled"].includes(e.state)
          ? ` ${style.paint("31", e.lastError)}`
          : "";
      return `${head} ${e.taskId} ${e.taskType} → ${paintState(style, e.state)}${tries}${err}`;
    }
    case TASK_PROGRESS_EVENT:
      return `${head} ${e.taskId} ${e.taskType} progress ${JSON.stringify(e.progress)}`;
    case TASK_LOG_EVENT:
      return `${head} ${e.taskId} ${e.taskType} log ${e.line}`;
    default:
      return `${head} ${style.paint("1", `queue ${e.action}`)}${e.taskId ? ` ${e.taskId}` : ""}${
        e.detail ? ` ${JSON.stringify(e.detail)}` : ""
      }`;
  }
}

/** Registers `task watch` on the `task` command. */
export function registerTaskWatch(task: Command): void {
  adminAction(
    task
      .command("watch")
      .description("follow task state changes live (colored on a terminal; --json: one event per line)")
      .option("-q, --queue <queue>", "only this queue")
      .option("--id <id>", "only this task")
      .option("--type <type>", "only this task type")
      .option("--all", "also progress reports, log lines and queue events")
      .option("--until-final", "with --id: stop once the task reaches a final state")
      .option("--count <n>", "stop after this many events"),
    async (ctx, { opts }) => {
      const queue = typeof opts.queue === "string" ? opts.queue : undefined;
      const id = typeof opts.id === "string" ? validateId(opts.id) : undefined;
      const type = typeof opts.type === "string" ? validateTaskType(opts.type) : undefined;
      const limit = opts.count === undefined ? Number.POSITIVE_INFINITY : intArg("--count", String(opts.count));
      const untilFinal = opts.untilFinal === true && id !== undefined;
      const stream: AsyncIterableIterator<JetqEvent> & { close(): void } = opts.all
        ? allEvents(ctx.nc, ctx.log, queue === undefined ? {} : { queue })
        : taskEvents(ctx.nc, ctx.log, queue === undefined ? {} : { queue });
      const stop = () => stream.close();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        await ctx.nc.flush(); // subscribed: nothing published from here on is missed
        if (untilFinal) {
          const now = await ctx.storage.loadTask(id);
          if (isFinalState(now.state)) {
            ctx.out.print(
              ctx.out.json ? JSON.stringify({ task_id: id, state: now.state, final: true }) : `${id} is ${now.state}`,
            );
            return undefined;
          }
        }
        process.stderr.write(
          `watching ${opts.all ? "events" : "task states"} of ${queue ?? "every queue"} (Ctrl-C to stop)\n`,
        );
        let seen = 0;
        for await (const e of stream) {
          if (id !== undefined && ("taskId" in e ? e.taskId !== id : true)) continue;
          if (type !== undefined && (e.type === QUEUE_EVENT || e.taskType !== type)) continue;
          ctx.out.print(ctx.out.json ? JSON.stringify(eventView(e)) : eventLine(ctx.out.style, e));
          if (++seen >= limit) break;
          if (untilFinal && e.type === TASK_STATE_EVENT && e.final) break;
        }
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        stream.close();
      }
      return undefined;
    },
  );
}
