/** `jetq queue list|info|create|update|delete|purge|pause|resume|rate-limit`. */
import { type Command, Option } from "commander";
import { ValidationError } from "../errors.js";
import { controlsView, queueInfoView, queueUpdateView, queueView, settingField } from "../gateway/views.js";
import type { QueueConfig } from "../jobs/queue.js";
import type { QueueInfo } from "../jobs/storage/jetstream-storage.js";
import { sampleQueueRates } from "../jobs/storage/queue-rates.js";
import { type QueueChanges, queueDifferences, updateQueue } from "../jobs/storage/queue-update.js";
import { type AdminContext, adminAction } from "./admin-context.js";
import { durationArg, intArg } from "./args.js";
import { confirm } from "./confirm.js";
import { count, fields, table } from "./output.js";
import { withProgress } from "./progress.js";

/** Longest rate sample `queue list` takes. */
const MAX_SAMPLE_MS = 60_000;

/** The flags of the queue settings, as `queue create` and `queue update` take them. */
const SETTING_FLAGS: { flag: string; key: keyof QueueChanges; kind: "duration" | "int" | "bool"; help: string }[] = [
  { flag: "--max-age <duration>", key: "maxAgeMs", kind: "duration", help: "longest an item may wait (0 = no limit)" },
  { flag: "--max-entries <n>", key: "maxEntries", kind: "int", help: "most items held (0 = no limit)" },
  {
    flag: "--discard-old <bool>",
    key: "discardOld",
    kind: "bool",
    help: "when full, drop the oldest items (true|false)",
  },
  { flag: "--max-tries <n>", key: "maxTries", kind: "int", help: "most handler invocations per task" },
  { flag: "--max-run-time <duration>", key: "maxRunTimeMs", kind: "duration", help: "longest a try may run" },
  { flag: "--max-concurrent <n>", key: "maxConcurrent", kind: "int", help: "most tasks in flight across workers" },
  {
    flag: "--redeliver-after <duration>",
    key: "redeliverAfterMs",
    kind: "duration",
    help: "hand a silent worker's item to another after",
  },
  {
    flag: "--dead-letters <bool>",
    key: "deadLetters",
    kind: "bool",
    help: "keep tasks that fail for good (true|false)",
  },
  {
    flag: "--dead-letter-retention <duration>",
    key: "deadLetterRetentionMs",
    kind: "duration",
    help: "how long dead letters are kept (0 = until purged)",
  },
];

function withSettingFlags(cmd: Command): Command {
  for (const s of SETTING_FLAGS) cmd.addOption(new Option(s.flag, s.help));
  return cmd;
}

function settingsOf(opts: Record<string, unknown>): QueueChanges {
  const out: Record<string, unknown> = {};
  for (const s of SETTING_FLAGS) {
    const attr = s.flag.slice(2, s.flag.indexOf(" ")).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const v = opts[attr];
    if (typeof v !== "string") continue;
    if (s.kind === "duration") out[s.key] = durationArg(s.flag.split(" ")[0]!, v);
    else if (s.kind === "int") out[s.key] = intArg(s.flag.split(" ")[0]!, v, 0);
    else if (v === "true" || v === "false") out[s.key] = v === "true";
    else throw new ValidationError("invalid_argument", `${s.flag.split(" ")[0]} must be true or false, got ${v}`);
  }
  return out as QueueChanges;
}

/** A duration for people: `0` as "none", else the largest whole unit. */
function span(ms: number): string {
  if (ms === 0) return "none";
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function status(info: QueueInfo): string {
  const c = info.controls;
  const parts: string[] = [];
  if (c.paused) parts.push("paused");
  if (c.holdUntil !== undefined && c.holdUntil > Date.now()) parts.push("held");
  if (c.rateLimit) parts.push(`limited ${c.rateLimit.limit}/${span(c.rateLimit.intervalMs)}`);
  return parts.length > 0 ? parts.join(", ") : "active";
}

/** A queue's definition and numbers as lines for people. */
function infoText(ctx: AdminContext, info: QueueInfo): string {
  const { style } = ctx.out;
  const q = info.config;
  const status_ = status(info);
  return fields(style, [
    ["queue", style.paint("1", info.name)],
    ["status", info.controls.paused ? style.paint("33", status_) : status_],
    ["waiting", info.pending],
    ["in flight", info.inFlight],
    ["dead letters", info.deadLetters],
    ["by priority", info.pendingByPriority.map((n, level) => `${level}:${count(n)}`).join(" ")],
    ["max tries", q.maxTries],
    ["max run time", span(q.maxRunTimeMs)],
    ["max concurrent", q.maxConcurrent],
    ["redeliver after", span(q.redeliverAfterMs)],
    ["max age", span(q.maxAgeMs)],
    ["max entries", q.maxEntries === 0 ? "none" : q.maxEntries],
    ["when full", q.discardOld ? "drop oldest" : "refuse new"],
    ["dead letters kept", q.deadLetters ? span(q.deadLetterRetentionMs) : "off"],
  ]);
}

/** Registers `queue …` on the program. */
export function registerQueueCommands(program: Command): void {
  const queue = program.command("queue").description("inspect, create, change and control queues");

  adminAction(
    queue
      .command("list")
      .description("every queue: waiting, in flight, dead letters, status, and rates over a short sample")
      .option("--sample <duration>", "how long to measure the rates (0: no rates)", "1s"),
    async (ctx, { opts }) => {
      const sampleMs = durationArg("--sample", String(opts.sample));
      if (sampleMs > MAX_SAMPLE_MS) throw new ValidationError("invalid_argument", "--sample is at most 60s");
      const names = await ctx.storage.queueNames();
      const rates = sampleMs > 0 ? sampleQueueRates(ctx.storage, names, sampleMs) : Promise.resolve(undefined);
      const infos = (await Promise.all(names.map((n) => ctx.storage.queueInfo(n).catch(() => undefined)))).filter(
        (i): i is QueueInfo => i !== undefined,
      );
      const measured = await rates;
      const round = (n: number) => Math.round(n * 10) / 10;
      const json = {
        queues: infos.map((i) => {
          const r = measured?.get(i.name);
          return {
            ...queueInfoView(i),
            ...(r
              ? {
                  rates: {
                    enqueued_per_s: round(r.enqueuedPerSec),
                    finished_per_s: round(r.finishedPerSec),
                    dead_lettered_per_s: round(r.deadLetteredPerSec),
                  },
                }
              : {}),
          };
        }),
      };
      const { style } = ctx.out;
      const rateCells = (name: string) => {
        const r = measured?.get(name);
        return r ? [round(r.enqueuedPerSec), round(r.finishedPerSec), round(r.deadLetteredPerSec)] : [];
      };
      const text = table(
        style,
        [
          "QUEUE",
          "WAITING",
          "IN FLIGHT",
          "DEAD",
          "STATUS",
          ...(measured ? ["ENQUEUED/S", "FINISHED/S", "DEAD/S"] : []),
        ],
        infos.map((i) => {
          const s = status(i);
          return [
            i.name,
            i.pending,
            i.inFlight,
            i.deadLetters,
            s === "active" ? style.paint("32", s) : style.paint("33", s),
            ...rateCells(i.name),
          ];
        }),
        "no queues",
      );
      return { json, text };
    },
  );

  adminAction(
    queue.command("info <queue>").description("a queue's definition, live numbers and controls"),
    async (ctx, { args }) => {
      const info = await ctx.storage.queueInfo(String(args[0]));
      return { json: queueInfoView(info), text: infoText(ctx, info) };
    },
  );

  adminAction(
    withSettingFlags(
      queue
        .command("create <queue>")
        .description("create a queue (an existing queue is left as it is; its stored settings are shown)"),
    ),
    async (ctx, { args, opts }) => {
      const name = String(args[0]);
      const settings = settingsOf(opts);
      const existing = await ctx.storage.findQueue(name);
      if (!existing) await ctx.storage.prepare(); // the task store the queue's tasks need
      const def = existing ?? (await ctx.storage.prepareQueue({ name, ...settings } as QueueConfig));
      if (existing) {
        const differ = queueDifferences({ name, ...settings }, existing).map(settingField);
        ctx.log.warn(
          `queue ${name} exists${differ.length ? `; its stored ${differ.join(", ")} differ (use jetq queue update)` : ""}`,
        );
      }
      return { json: queueView(def), text: `${existing ? "exists" : "created"} ${name}` };
    },
  );

  adminAction(
    withSettingFlags(
      queue
        .command("update <queue>")
        .description("change a queue's settings (only the flags given); see docs/queue-controls.md")
        .option("--allow-drop", "accept a lower --max-age / --max-entries that removes queued items"),
    ),
    async (ctx, { args, opts }) => {
      const changes = settingsOf(opts);
      if (Object.keys(changes).length === 0)
        throw new ValidationError(
          "invalid_argument",
          `give at least one setting to change: ${SETTING_FLAGS.map((s) => s.flag.split(" ")[0]).join(", ")}`,
        );
      const r = await updateQueue(ctx.storage, String(args[0]), changes, { allowDrop: opts.allowDrop === true });
      const view = queueUpdateView(r);
      const text =
        r.changed.length === 0
          ? "nothing changed"
          : `changed ${r.changed.map((k) => `${settingField(k)}=${String(r.queue[k])}`).join(" ")}`;
      return { json: view, text };
    },
  );

  adminAction(
    queue
      .command("delete <queue>")
      .description("delete a queue: its items, consumers, dead letters and definition (task records stay)")
      .option("-y, --yes", "do not ask for confirmation"),
    async (ctx, { args, opts }) => {
      const name = String(args[0]);
      const info = await ctx.storage.queueInfo(name);
      await confirm(opts.yes === true, `delete queue ${name} with ${count(info.depth)} items?`);
      await ctx.storage.deleteQueue(name);
      return { json: { deleted: name }, text: `deleted ${name}` };
    },
  );

  adminAction(
    queue
      .command("purge <queue>")
      .description("remove every item of a queue (task records stay)")
      .option("-y, --yes", "do not ask for confirmation"),
    async (ctx, { args, opts }) => {
      const name = String(args[0]);
      const info = await ctx.storage.queueInfo(name);
      await confirm(opts.yes === true, `remove all ${count(info.depth)} items of queue ${name}?`);
      const purged = await withProgress(`purging ${name}`, info.depth, async (p) => {
        const n = await ctx.storage.purgeQueue(name);
        p.advance(n);
        return n;
      });
      return { json: { purged }, text: `purged ${count(purged)} items` };
    },
  );

  const controls = (ctx: AdminContext) => ctx.engine.controls();
  adminAction(
    queue.command("pause <queue>").description("stop every worker and gateway taking its tasks (kept across restarts)"),
    async (ctx, { args }) => {
      const c = await (await controls(ctx)).pause(String(args[0]));
      return { json: controlsView(c), text: `paused ${args[0]}` };
    },
  );
  adminAction(queue.command("resume <queue>").description("resume a paused (or held) queue"), async (ctx, { args }) => {
    const c = await (await controls(ctx)).resume(String(args[0]));
    return { json: controlsView(c), text: `resumed ${args[0]}` };
  });
  adminAction(
    queue
      .command("rate-limit <queue> [limit] [interval]")
      .description("set the queue-wide rate limit (task starts per interval, default 1s); without a limit, remove it"),
    async (ctx, { args }) => {
      const [name, limit, interval] = args.map((a) => (a === undefined ? undefined : String(a)));
      const commands = await controls(ctx);
      const c =
        limit === undefined
          ? await commands.setRateLimit(name!, null)
          : await commands.setRateLimit(name!, {
              limit: intArg("limit", limit),
              intervalMs: durationArg("interval", interval ?? "1s"),
            });
      const text = c.rateLimit
        ? `${name}: at most ${c.rateLimit.limit} starts per ${span(c.rateLimit.intervalMs)}`
        : `${name}: no rate limit`;
      return { json: controlsView(c), text };
    },
  );
}
