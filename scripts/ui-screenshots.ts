/**
 * Takes the screenshots of docs/ui/ (every dashboard view, light and dark): starts a nats-server
 * and `jetq serve` in this process, gives them a few minutes of realistic work (queues, failures,
 * dead letters, a running task with a log, schedules, workers), then drives Debian's Chromium.
 *
 *   node --import tsx scripts/ui-screenshots.ts [--seconds 90]
 */
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { headers } from "@nats-io/nats-core";
import { Client, newTask, RateLimitError, Router, silentLogger, TerminateTask } from "../src/index.js";
import { NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { JetqService } from "../src/server/jetq-service.js";
import { launchChromium } from "../test/support/browser.js";

const { values: args } = parseArgs({ options: { seconds: { type: "string", default: "90" } } });
const out = new URL("../docs/ui/", import.meta.url);
mkdirSync(out, { recursive: true });
const say = (s: string) => process.stderr.write(`[screenshots] ${s}\n`);

const nats = new NatsServerLauncher();
await nats.start();
const service = new JetqService({
  nats: { servers: nats.url },
  http: { host: "127.0.0.1", port: 0 },
  log: silentLogger,
});
await service.start();
const url = service.gateway!.url;
const connect = (queue: string | { name: string; maxTries?: number }) =>
  Client.connect({ servers: nats.url, queue, logger: silentLogger, retryPolicy: () => 2000, concurrency: 8 });
const emails = await connect({ name: "emails", maxTries: 3 });
const reports = await connect("reports");
const billing = await connect("billing");
const search = await connect("search-index");
await emails.setRateLimit("emails", { limit: 200, intervalMs: 1000 });

let release!: () => void;
const held = new Promise<void>((r) => {
  release = r;
});
let n = 0;
const router = new Router()
  .handle("email:send", async (t) => {
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 30));
    const to = (t.payload as { to: string }).to;
    if (to.endsWith(".invalid")) throw new TerminateTask(`no MX record for ${to.split("@")[1]}`);
    if (Math.random() < 0.05) throw new Error("SMTP 451: try again later");
    return { messageId: `<${t.id}@mail.example.net>` };
  })
  .handle("report:build", async (t, ctx) => {
    for (let page = 1; page <= 4; page++) {
      await ctx.progress({ page, of: 12 });
      await ctx.appendLog(`rendered page ${page} of 12 (${(Math.random() * 40 + 10).toFixed(1)} KB)`);
      await new Promise((r) => setTimeout(r, 40));
    }
    if ((t.payload as { month: string }).month === "2026-10") {
      await ctx.appendLog("waiting for the ledger export…");
      await held;
    }
    return { pages: 12, url: `s3://reports/${(t.payload as { month: string }).month}.pdf` };
  })
  .handle("invoice:charge", async () => {
    await new Promise((r) => setTimeout(r, 10));
    if (++n % 9 === 0) throw new RateLimitError(1000);
    if (n % 13 === 0) throw new Error("card declined: insufficient funds");
    return { charged: true };
  })
  .handle("doc:index", async () => {
    await new Promise((r) => setTimeout(r, 2));
    return null;
  });

const ac = new AbortController();
const runs = [
  emails.run(router, { signal: ac.signal }),
  reports.run(router, { signal: ac.signal }),
  billing.run(router, { signal: ac.signal, queues: ["billing", "search-index"] }),
];

// Schedules: cron task schedules, a delayed task, Gozo messages.
const cron = await emails.scheduledTasks();
await cron.create({
  name: "nightly-digest",
  schedule: "0 0 6 * * *",
  tz: "Europe/Paris",
  queue: "emails",
  type: "email:send",
  payload: { to: "digest@example.net" },
});
await cron.create({ name: "hourly-invoices", schedule: "@every 1h", queue: "billing", type: "invoice:charge" });
await cron.create({
  name: "weekly-report",
  schedule: "0 30 8 * * MON",
  tz: "America/New_York",
  queue: "reports",
  type: "report:build",
  payload: { month: "weekly" },
});
await cron.setPaused("weekly-report", true);
await reports.enqueue(newTask("report:build", { month: "2026-12" }, { delayMs: 6 * 3_600_000 }));
await emails.enqueue(newTask("email:send", { to: "welcome@example.net" }, { delayMs: 15 * 60_000 }));
for (const [id, when] of [
  ["reminder-7731", "+3600"],
  ["trial-ends-204", "+86400"],
] as const) {
  const h = headers();
  h.set("Gozo-When", when);
  h.set("Gozo-Id", id);
  emails.nc.publish("gozo", Buffer.from(JSON.stringify({ user: id })), { reply: "notify.users", headers: h });
}
const every = headers();
every.set("Gozo-Cron", "0 */15 * * * *");
every.set("Gozo-Id", "cache-warmup");
emails.nc.publish("gozo", Buffer.from("warm"), { reply: "cache.warm", headers: every });

// A steady load for the charts, with bursts.
const running = await reports.enqueue(newTask("report:build", { month: "2026-10" }));
const end = Date.now() + Number(args.seconds) * 1000;
say(`generating load for ${args.seconds} s`);
let tick = 0;
while (Date.now() < end) {
  tick++;
  const burst = tick % 20 < 4 ? 60 : 15;
  await emails.enqueueMany(
    Array.from({ length: burst }, (_, i) =>
      newTask("email:send", {
        to: i % 25 === 0 ? `user${i}@bounce.invalid` : `user${tick}-${i}@example.net`,
        subject: "Your order has shipped",
      }),
    ),
  );
  await billing.enqueueMany(
    Array.from({ length: 5 }, (_, i) => newTask("invoice:charge", { invoice: tick * 10 + i, amount_cents: 1999 })),
  );
  await search.enqueueMany(Array.from({ length: 30 }, (_, i) => newTask("doc:index", { doc: tick * 100 + i })));
  if (tick % 10 === 0)
    await reports.enqueue(
      newTask("report:build", { month: `2026-${String(((tick / 10) % 12) + 1).padStart(2, "0")}` }),
    );
  await new Promise((r) => setTimeout(r, 1000));
}
// Some waiting work and a paused queue at the end.
await search.pauseQueue("search-index");
await search.enqueueMany(
  Array.from({ length: 240 }, (_, i) => newTask("doc:index", { doc: i }, { priority: i % 7 === 0 ? 2 : 5 })),
);

const deadOne = (await emails.deadLetters.list("emails", { limit: 1 })).deadLetters[0]?.task.id;
const done = (await (await fetch(`${url}/v1/tasks?queue=emails&state=complete&limit=1`)).json()) as {
  tasks: { id: string }[];
};
const views: [string, string][] = [
  ["overview", "/ui/"],
  ["queue", "/ui/queues/emails?state=complete"],
  ["queue-waiting", "/ui/queues/search-index?state=new"],
  ["task-running", `/ui/tasks/${running.id}`],
  ["task", `/ui/tasks/${deadOne ?? done.tasks[0]!.id}`],
  ["dead-letters", "/ui/dead-letters/emails"],
  ["schedules", "/ui/schedules"],
  ["workers", "/ui/workers"],
];
for (const theme of ["light", "dark"] as const) {
  const browser = await launchChromium({ colorScheme: theme, width: 1440, height: 1280 });
  try {
    const page = await browser.context.newPage();
    for (const [name, path] of views) {
      await page.goto(`${url}${path}`);
      await page.waitForSelector(".view-head h1");
      await page.waitForTimeout(2500); // let the charts draw and a few ticks arrive
      await page.screenshot({ path: new URL(`${name}-${theme}.png`, out).pathname, fullPage: false });
      say(`${name}-${theme}.png`);
    }
  } finally {
    await browser.close();
  }
}
release();
ac.abort();
await Promise.all(runs);
for (const c of [emails, reports, billing, search]) await c.close();
await service.stop();
await nats.stop();
