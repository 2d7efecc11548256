/** `jetq task add`: one task from the command line, or many from a file of REST task bodies. */
import type { Command } from "commander";
import { errorMessage, JetqError, ValidationError } from "../errors.js";
import { validate } from "../gateway/request-body.js";
import { TaskBody } from "../gateway/schemas.js";
import { dedupeOf, taskFromBody } from "../gateway/task-body.js";
import { taskView } from "../gateway/views.js";
import type { Client } from "../jobs/client.js";
import type { DedupeOptions } from "../jobs/idempotency.js";
import type { Task } from "../jobs/task.js";
import { adminAction } from "./admin-context.js";
import { durationArg, intArg, jsonArg, readInput, timeArg } from "./args.js";
import { EXIT } from "./exit-codes.js";
import { count, paintState } from "./output.js";
import { withProgress } from "./progress.js";

/** Tasks written per pipelined batch of a bulk add. */
const BULK_BATCH = 500;

type Body = Record<string, unknown>;

/** The REST body the flags describe (so that one validation serves the CLI and the REST API). */
function bodyOf(type: string, payload: unknown, opts: Record<string, unknown>): Body {
  const b: Body = { type, payload };
  if (typeof opts.id === "string") b.id = opts.id;
  if (typeof opts.priority === "string") b.priority = intArg("--priority", opts.priority, 0);
  if (typeof opts.maxTries === "string") b.max_tries = intArg("--max-tries", opts.maxTries, 0);
  if (typeof opts.deadline === "string") b.deadline = timeArg("--deadline", opts.deadline);
  if (typeof opts.runAt === "string") b.run_at = timeArg("--run-at", opts.runAt);
  if (typeof opts.delay === "string") b.delay_ms = durationArg("--delay", opts.delay);
  if (typeof opts.dedupeKey === "string") {
    if (typeof opts.dedupeWindow !== "string")
      throw new ValidationError("invalid_argument", "--dedupe-key needs --dedupe-window");
    b.dedupe = {
      key: opts.dedupeKey,
      window_ms: durationArg("--dedupe-window", opts.dedupeWindow),
      ...(typeof opts.dedupeMode === "string" ? { mode: opts.dedupeMode } : {}),
    };
  }
  return b;
}

/** A validated body's task and idempotency options. */
function parse(body: unknown): { task: Task; dedupe?: DedupeOptions } {
  const b = validate(TaskBody, body);
  const dedupe = dedupeOf(b);
  return { task: taskFromBody(b), ...(dedupe ? { dedupe } : {}) };
}

/** Enqueues one task; `duplicate` when an idempotency key answered with the task that holds it. */
async function addOne(client: Client, task: Task, dedupe?: DedupeOptions): Promise<{ task: Task; duplicate: boolean }> {
  const stored = await client.enqueue(task, dedupe ? { dedupe } : {});
  return { task: stored, duplicate: stored.id !== task.id };
}

interface LineFailure {
  line: number;
  error: string;
  message: string;
}

const failure = (line: number, err: unknown): LineFailure => ({
  line,
  error: err instanceof JetqError ? err.code : "internal",
  message: errorMessage(err),
});

/**
 * Adds one task per non-empty line of `text` (each a REST task body; `type` defaults to
 * `defaultType`): tasks with idempotency keys one by one, the others in pipelined batches.
 */
async function addBulk(client: Client, text: string, defaultType: string | undefined) {
  const lines = text
    .split(/\r?\n/)
    .map((l, i) => ({ n: i + 1, text: l.trim() }))
    .filter((l) => l.text !== "");
  const failed: LineFailure[] = [];
  let enqueued = 0;
  await withProgress("adding", lines.length, async (p) => {
    let batch: { n: number; task: Task }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      try {
        await client.enqueueMany(batch.map((b) => b.task));
        enqueued += batch.length;
      } catch {
        // Some failed: again one by one, to tell which lines. Those stored already are not stored
        // twice (same task id within JetStream's duplicate window).
        for (const b of batch) {
          try {
            await client.enqueue(b.task);
            enqueued++;
          } catch (err) {
            failed.push(failure(b.n, err));
          }
        }
      }
      p.advance(batch.length);
      batch = [];
    };
    for (const l of lines) {
      try {
        const body = jsonArg(`line ${l.n}`, l.text) as Body;
        const parsed = parse(
          typeof body === "object" && body !== null && !Array.isArray(body) && defaultType !== undefined
            ? { type: defaultType, ...body }
            : body,
        );
        if (parsed.dedupe) {
          await flush();
          await addOne(client, parsed.task, parsed.dedupe);
          enqueued++;
          p.advance();
        } else {
          batch.push({ n: l.n, task: parsed.task });
          if (batch.length >= BULK_BATCH) await flush();
        }
      } catch (err) {
        failed.push(failure(l.n, err));
        p.advance();
      }
    }
    await flush();
  });
  return { enqueued, failed, lines: lines.length };
}

/** Registers `task add` on the `task` command. */
export function registerTaskAdd(task: Command): void {
  adminAction(
    task
      .command("add <queue> [type] [payload]")
      .description("enqueue a task: payload as a JSON argument, from --file (or - for stdin), or many with --bulk")
      .option("-f, --file <file>", "read the payload (JSON) from this file, or - for stdin")
      .option(
        "--bulk <file>",
        "one task per line (JSON: the REST API's task body, type defaulting to [type]); - for stdin",
      )
      .option("--id <id>", "task id (default: a new ULID)")
      .option("--priority <0-9>", "0 most urgent, default 5")
      .option("--max-tries <n>", "tries for this task (capped by the queue)")
      .option("--deadline <time>", "must not start after this: RFC 3339, epoch ms or +duration")
      .option("--run-at <time>", "start no earlier: RFC 3339, epoch ms or +duration")
      .option("--delay <duration>", "start no earlier than this from now, e.g. 10m")
      .option("--dedupe-key <key>", "idempotency key (docs/idempotency.md)")
      .option("--dedupe-window <duration>", "how long the key holds")
      .option("--dedupe-mode <mode>", "throttle (default) or debounce"),
    async (ctx, { args, opts }) => {
      const [queue, type, payloadArg] = args as [string, string | undefined, string | undefined];
      const client = await ctx.client(queue);
      if (typeof opts.bulk === "string") {
        if (payloadArg !== undefined || opts.file !== undefined)
          throw new ValidationError("invalid_argument", "--bulk takes the payloads from its file");
        const r = await addBulk(client, readInput(opts.bulk), type);
        const text = `enqueued ${count(r.enqueued)} of ${count(r.lines)}${r.failed
          .slice(0, 20)
          .map((f) => `\n  line ${f.line}: ${f.message} [${f.error}]`)
          .join("")}`;
        return {
          json: { enqueued: r.enqueued, failed: r.failed },
          text,
          exitCode: r.failed.length > 0 ? EXIT.partial : EXIT.ok,
        };
      }
      if (type === undefined) throw new ValidationError("invalid_argument", "give the task type (or --bulk <file>)");
      if (payloadArg !== undefined && opts.file !== undefined)
        throw new ValidationError("invalid_argument", "give the payload as an argument or --file, not both");
      const payload =
        typeof opts.file === "string"
          ? jsonArg(opts.file === "-" ? "stdin" : opts.file, readInput(opts.file))
          : payloadArg === undefined
            ? null
            : jsonArg("the payload", payloadArg);
      const { task: t, dedupe } = parse(bodyOf(type, payload, opts));
      const r = await addOne(client, t, dedupe);
      return {
        json: { task: taskView(r.task), ...(dedupe ? { duplicate: r.duplicate } : {}) },
        text: `${r.duplicate ? "duplicate of" : "enqueued"} ${r.task.id} ${paintState(ctx.out.style, r.task.state)}`,
      };
    },
  );
}
