/** `jetq task list|get|retry|delete|cancel` (and `add`, `watch`, `process` from their own files). */
import type { Command } from "commander";
import { errorMessage, JetqError, ValidationError } from "../errors.js";
import { logLinesView, taskView } from "../gateway/views.js";
import type { Task, TaskState } from "../jobs/task.js";
import { listTasks, MAX_TASK_PAGE, type TaskListQuery } from "../jobs/task-list.js";
import { type AdminContext, type Answer, adminAction } from "./admin-context.js";
import { intArg } from "./args.js";
import { EXIT } from "./exit-codes.js";
import { count, paintState, table, when } from "./output.js";
import { withProgress } from "./progress.js";
import { registerTaskAdd } from "./task-add.js";
import { registerTaskProcess } from "./task-process.js";
import { taskText } from "./task-text.js";
import { registerTaskWatch } from "./task-watch.js";

/** Most tasks one bulk retry selects by filter. */
const MAX_BULK = 100_000;

function queryOf(opts: Record<string, unknown>, limit: number): TaskListQuery {
  const q: TaskListQuery = { limit };
  if (typeof opts.queue === "string") q.queue = opts.queue;
  if (typeof opts.state === "string") q.state = opts.state as TaskState;
  if (typeof opts.type === "string") q.type = opts.type;
  if (typeof opts.id === "string") q.id = opts.id;
  if (typeof opts.cursor === "string") q.cursor = opts.cursor;
  return q;
}

function tasksTable(ctx: AdminContext, tasks: Task[]): string {
  const { style } = ctx.out;
  return table(
    style,
    ["ID", "QUEUE", "TYPE", "STATE", "TRIES", "CREATED", "LAST ERROR"],
    tasks.map((t) => [
      t.id,
      t.queue,
      t.type,
      paintState(style, t.state),
      t.tries,
      when(t.createdAt),
      (t.lastError ?? "").slice(0, 50),
    ]),
    "no tasks",
  );
}

/** One failed item of a bulk command, as its answer lists it. */
interface BulkFailure {
  id: string;
  error: string;
  message: string;
}

/**
 * Runs `op` on each id with a progress bar; answers with what succeeded and what failed (exit 6
 * when some failed; a single id that fails fails the command with its own code).
 */
async function bulk(
  label: string,
  ids: string[],
  op: (id: string) => Promise<unknown>,
): Promise<{ done: unknown[]; failed: BulkFailure[]; exitCode: number }> {
  const done: unknown[] = [];
  const failed: BulkFailure[] = [];
  let lastError: unknown;
  await withProgress(label, ids.length, async (p) => {
    for (const id of ids) {
      try {
        done.push(await op(id));
      } catch (err) {
        lastError = err;
        failed.push({
          id,
          error: err instanceof JetqError ? err.code : "internal",
          message: errorMessage(err),
        });
      }
      p.advance();
    }
  });
  if (ids.length === 1 && failed.length === 1) throw lastError;
  return { done, failed, exitCode: failed.length > 0 ? EXIT.partial : EXIT.ok };
}

function failuresText(ctx: AdminContext, failed: BulkFailure[]): string {
  if (failed.length === 0) return "";
  return `\n${ctx.out.style.paint("31", `${count(failed.length)} failed:`)}\n${failed
    .slice(0, 20)
    .map((f) => `  ${f.id}: ${f.message} [${f.error}]`)
    .join("\n")}${failed.length > 20 ? "\n  …" : ""}`;
}

/** The ids a bulk command works on: those given, or every task matching the filters. */
async function selectIds(ctx: AdminContext, ids: string[], opts: Record<string, unknown>): Promise<string[]> {
  const filtered = ["queue", "state", "type"].some((k) => typeof opts[k] === "string");
  if (ids.length > 0 && filtered)
    throw new ValidationError("invalid_argument", "give task ids or --queue/--state/--type, not both");
  if (ids.length > 0) return ids;
  if (!filtered)
    throw new ValidationError("invalid_argument", "give task ids, or --queue/--state/--type to select tasks");
  const max = opts.limit === undefined ? MAX_BULK : intArg("--limit", String(opts.limit));
  const selected: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listTasks(
      ctx.storage,
      { ...queryOf(opts, Math.min(MAX_TASK_PAGE, max - selected.length)), ...(cursor ? { cursor } : {}) },
      cursor === undefined ? { log: ctx.log } : {}, // the scan warning once, on the first page
    );
    selected.push(...page.tasks.map((t) => t.id));
    cursor = page.nextCursor;
  } while (cursor !== undefined && selected.length < max);
  return selected;
}

/** Registers `task …` on the program. */
export function registerTaskCommands(program: Command): void {
  const task = program
    .command("task")
    .description("list, inspect, add, retry, cancel, delete, watch and process tasks");

  adminAction(
    task
      .command("list")
      .description("tasks by queue, state and type, a page at a time (through jetq serve's index when one runs)")
      .option("-q, --queue <queue>", "only this queue")
      .option("--state <state>", "only this state (new, active, retry, complete, expired, …)")
      .option("--type <type>", "only this task type")
      .option("--id <id>", "only this task")
      .option("--limit <n>", `page size, 1-${MAX_TASK_PAGE}`, "100")
      .option("--cursor <cursor>", "continue after a previous page (its next_cursor)"),
    async (ctx, { opts }): Promise<Answer> => {
      const page = await listTasks(ctx.storage, queryOf(opts, intArg("--limit", String(opts.limit))), {
        log: ctx.log,
      });
      const more =
        page.nextCursor === undefined ? "" : `\n${ctx.out.style.paint("2", `more: --cursor ${page.nextCursor}`)}`;
      return {
        json: { tasks: page.tasks.map(taskView), ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}) },
        text: tasksTable(ctx, page.tasks) + more,
      };
    },
  );

  adminAction(
    task.command("get <id>").description("a task's record with its failed tries and log lines"),
    async (ctx, { args }) => {
      const id = String(args[0]);
      const t = await ctx.storage.loadTask(id);
      t.logs = await ctx.storage.logs.read(id);
      const view = { ...taskView(t), logs: logLinesView(t.logs) };
      return { json: { task: view }, text: taskText(ctx.out.style, t) };
    },
  );

  adminAction(
    task
      .command("retry [ids...]")
      .description("run tasks again from scratch (tries reset): the ids given, or every task the filters select")
      .option("-q, --queue <queue>", "select the tasks of this queue")
      .option("--state <state>", "select the tasks in this state (e.g. expired)")
      .option("--type <type>", "select the tasks of this type")
      .option("--limit <n>", "select at most this many"),
    async (ctx, { args, opts }) => {
      const ids = await selectIds(ctx, (args[0] as string[] | undefined) ?? [], opts);
      const r = await bulk("retrying", ids, async (id) => {
        const t = await ctx.storage.loadTask(id);
        return (await ctx.client(t.queue)).retryTask(id);
      });
      const retried = r.done as Task[];
      return {
        json: { retried: retried.map(taskView), failed: r.failed },
        text: `retried ${count(retried.length)}${failuresText(ctx, r.failed)}`,
        exitCode: r.exitCode,
      };
    },
  );

  adminAction(
    task.command("delete <ids...>").description("delete tasks: their records, queued items and log lines"),
    async (ctx, { args }) => {
      const ids = args[0] as string[];
      const r = await bulk("deleting", ids, async (id) => {
        await ctx.storage.deleteTask(id);
        return id;
      });
      return {
        json: { deleted: r.done, failed: r.failed },
        text: `deleted ${count(r.done.length)}${failuresText(ctx, r.failed)}`,
        exitCode: r.exitCode,
      };
    },
  );

  adminAction(
    task.command("cancel <id>").description("cancel a task: at once when it is not running, else its worker aborts it"),
    async (ctx, { args }) => {
      const t = await ctx.engine.cancelTask(String(args[0]));
      return { json: { task: taskView(t) }, text: `${t.id} ${paintState(ctx.out.style, t.state)}` };
    },
  );

  registerTaskAdd(task);
  registerTaskWatch(task);
  registerTaskProcess(task);
}
