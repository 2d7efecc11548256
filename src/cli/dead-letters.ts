/** `jetq dead-letters list|get|redrive|purge`: the tasks of a queue that failed for good. */
import type { Command } from "commander";
import { deadLetterView, taskView } from "../gateway/views.js";
import type { DeadLetter } from "../jobs/dead-letters.js";
import { MAX_DEAD_LETTER_PAGE } from "../jobs/dead-letters.js";
import { type AdminContext, adminAction } from "./admin-context.js";
import { intArg } from "./args.js";
import { confirm } from "./confirm.js";
import { count, fields, paintState, table, when } from "./output.js";
import { withProgress } from "./progress.js";
import { taskText } from "./task-text.js";

function listText(ctx: AdminContext, list: DeadLetter[], next: number | undefined): string {
  const { style } = ctx.out;
  const rows = list.map((d) => [
    d.task.id,
    d.task.type,
    paintState(style, d.reason),
    d.task.tries,
    when(d.deadAt),
    (d.task.lastError ?? "").slice(0, 60),
  ]);
  const t = table(style, ["TASK", "TYPE", "REASON", "TRIES", "DEAD AT", "LAST ERROR"], rows, "no dead letters");
  return next === undefined ? t : `${t}\n${style.paint("2", `more: --after ${next}`)}`;
}

/** Registers `dead-letters …` on the program. */
export function registerDeadLetterCommands(program: Command): void {
  const dlq = program.command("dead-letters").description("the tasks of a queue that failed for good");

  adminAction(
    dlq
      .command("list <queue>")
      .description("a queue's dead letters, oldest first")
      .option("--limit <n>", `page size, 1-${MAX_DEAD_LETTER_PAGE}`, "100")
      .option("--after <cursor>", "continue after a previous page (its `next`)"),
    async (ctx, { args, opts }) => {
      const page = await (await ctx.client(String(args[0]))).deadLetters.list(String(args[0]), {
        limit: intArg("--limit", String(opts.limit)),
        ...(opts.after === undefined ? {} : { after: intArg("--after", String(opts.after), 0) }),
      });
      return {
        json: {
          dead_letters: page.deadLetters.map(deadLetterView),
          ...(page.next === undefined ? {} : { next: page.next }),
        },
        text: listText(ctx, page.deadLetters, page.next),
      };
    },
  );

  adminAction(
    dlq.command("get <queue> <id>").description("a task's dead letter: the task with its last error and history"),
    async (ctx, { args }) => {
      const [queue, id] = args.map(String) as [string, string];
      const dl = await (await ctx.client(queue)).deadLetters.get(queue, id);
      const head = fields(ctx.out.style, [
        ["reason", paintState(ctx.out.style, dl.reason)],
        ["dead at", when(dl.deadAt)],
      ]);
      return { json: { dead_letter: deadLetterView(dl) }, text: `${head}\n${taskText(ctx.out.style, dl.task)}` };
    },
  );

  adminAction(
    dlq
      .command("redrive <queue> [id]")
      .description("put one dead letter (or, without an id, every one) back in its queue with fresh tries"),
    async (ctx, { args }) => {
      const queue = String(args[0]);
      const dead = (await ctx.client(queue)).deadLetters;
      if (args[1] !== undefined) {
        const task = await dead.redrive(queue, String(args[1]));
        return { json: { task: taskView(task) }, text: `redriven ${task.id}` };
      }
      const total = await dead.count(queue);
      const r = await withProgress(`redriving ${queue}`, total, (p) =>
        dead.redriveAll(queue, {
          onProgress: (_done, all) => {
            p.total(all);
            p.advance();
          },
        }),
      );
      return {
        json: r,
        text: `redriven ${count(r.redriven)}${r.skipped ? `, skipped ${count(r.skipped)} (signed, deadline passed)` : ""}`,
      };
    },
  );

  adminAction(
    dlq
      .command("purge <queue> [id]")
      .description("remove one dead letter (or, without an id, every one) without running it")
      .option("-y, --yes", "do not ask before removing every dead letter"),
    async (ctx, { args, opts }) => {
      const queue = String(args[0]);
      const dead = (await ctx.client(queue)).deadLetters;
      const id = args[1] === undefined ? undefined : String(args[1]);
      if (id === undefined)
        await confirm(opts.yes === true, `remove all ${count(await dead.count(queue))} dead letters of ${queue}?`);
      const purged = await dead.purge(queue, id);
      return { json: { purged }, text: `purged ${count(purged)}` };
    },
  );
}
