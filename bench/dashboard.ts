/**
 * Dashboard and task index benchmark (standalone:
 * `node --expose-gc --import tsx bench/dashboard.ts [--records 1000000] [--jobs 20000] [--rounds 2]`).
 *
 * 1. Scale: writes `records` task records straight into `JETQ_TASKS` (pipelined publishes with the
 *    record headers, spread over 5 queues, 5 types and the final and in-between states) and 10,000
 *    waiting work items, then starts `jetq serve` in this process and measures the index's rebuild
 *    time and memory, the answer times of the overview and of the first page of every state list
 *    (HTTP), and their render time in Chromium (from navigation to the rows on screen).
 * 2. Hot path: on a fresh nats-server, `jobs` tasks enqueued and processed by a library worker,
 *    without `jetq serve`, then with `jetq serve` running (index, time series, a dashboard viewer
 *    connected to the live stream); nats-server's CPU per job in both, and serve's own.
 * Prints a table and writes bench/results/dashboard.json.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client, connectNats, newTask, Router, silentLogger, TaskState } from "../src/index.js";
import { handlesOf } from "../src/jobs/storage/handles.js";
import { JetStreamStorage } from "../src/jobs/storage/jetstream-storage.js";
import { workSubject } from "../src/jobs/storage/layout.js";
import { encodeTask, recordHeaders } from "../src/jobs/storage/task-codec.js";
import { NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { JetqService } from "../src/server/jetq-service.js";
import { launchChromium } from "../test/support/browser.js";
import { findPid, processCpuMs } from "./cpu.js";
import { JetqServeProcess } from "./jetq-serve-process.js";
import { machineInfo } from "./machine.js";
import { percentile, round3 } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    jobs: { type: "string", default: "20000" },
    rounds: { type: "string", default: "2" },
    only: { type: "string" },
  },
});
const RECORDS = Number(args.records);
const JOBS = Number(args.jobs);
const ROUNDS = Number(args.rounds);
const QUEUES = ["emails", "reports", "billing", "images", "search"];
const TYPES = ["send", "render", "charge", "resize", "index"];
/** Share of records per state (the rest complete). */
const MIX: [TaskState, number][] = [
  [TaskState.Expired, 0.08],
  [TaskState.Terminated, 0.04],
  [TaskState.Cancelled, 0.03],
  [TaskState.Unreachable, 0.01],
  [TaskState.Retry, 0.02],
  [TaskState.Delayed, 0.02],
  [TaskState.Blocked, 0.01],
  [TaskState.Active, 0.005],
];
const WAITING = 10_000;
/** Records of the baseline pages. */
const BASELINE = 1000;
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  gc?.();
  // Typed arrays live outside the JS heap: count both.
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const say = (s: string) => process.stderr.write(`[dashboard bench] ${s}\n`);

function stateOf(i: number): TaskState {
  let x = ((i * 2654435761) % 1000) / 1000;
  for (const [s, share] of MIX) {
    if (x < share) return s;
    x -= share;
  }
  return TaskState.Complete;
}

/** Writes the records and waiting items as fast as the connection takes them. */
/** Writes records `from` to `to` - 1 (and, with the first ones, the waiting items). */
async function seed(url: string, from: number, to: number): Promise<{ writeMs: number }> {
  const nc = await connectNats({ servers: url, name: "bench-seed" });
  const storage = await JetStreamStorage.open(nc, {}, silentLogger);
  await storage.prepare();
  for (const q of QUEUES) await storage.prepareQueue({ name: q });
  const t0 = performance.now();
  const base = Date.now() - RECORDS;
  for (let i = from; i < to; i++) {
    const t = newTask(
      TYPES[i % TYPES.length]!,
      { n: i, to: "user@example.net" },
      { id: `t${String(i).padStart(9, "0")}` },
    );
    t.queue = QUEUES[i % QUEUES.length]!;
    t.state = stateOf(i);
    t.createdAt = base + i;
    t.tries = 1;
    if (t.state === TaskState.Complete) t.result = { value: "ok", completedAt: base + i };
    else if (t.state !== TaskState.Delayed && t.state !== TaskState.Blocked) t.lastError = "something went wrong";
    nc.publish(`jetq.task.${t.id}`, encodeTask(t), { headers: recordHeaders(t) });
    if (i % 5000 === 4999) await nc.flush();
    if (i % 100_000 === 99_999) say(`${i + 1} records written`);
  }
  for (let i = 0; i < (from === 0 ? WAITING : 0); i++) {
    const t = newTask("send", { n: i }, { id: `w${String(i).padStart(9, "0")}` });
    t.queue = "emails";
    nc.publish(workSubject("emails", t.id), encodeTask(t));
    if (i % 5000 === 4999) await nc.flush();
  }
  await nc.flush();
  for (;;) {
    const info = await storage.tasksInfo();
    if (info.records >= to) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const writeMs = performance.now() - t0;
  storage.close();
  await nc.close();
  return { writeMs };
}

async function timeGet(url: string, n: number): Promise<{ p50: number; p99: number; max: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    ms.push(performance.now() - t0);
  }
  return { p50: round3(percentile(ms, 50)), p99: round3(percentile(ms, 99)), max: round3(Math.max(...ms)) };
}

/** Median and max time in Chromium from the start of navigation to the rows on screen, per view. */
async function renderTimes(url: string): Promise<Record<string, { p50: number; max: number }>> {
  const render: Record<string, number[]> = {
    overview: [],
    "queue, waiting": [],
    "queue, complete": [],
    "queue, expired": [],
  };
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const views: [string, string, string][] = [
      ["overview", "/ui/", 'tr[data-queue="emails"] td[data-col="complete"] .num'],
      ["queue, waiting", "/ui/queues/emails?state=new", 'table[data-testid="tasks"] tbody tr'],
      ["queue, complete", "/ui/queues/emails?state=complete", 'table[data-testid="tasks"] tbody tr'],
      ["queue, expired", "/ui/queues/emails?state=expired", 'table[data-testid="tasks"] tbody tr'],
    ];
    for (let round = 0; round < 11; round++) {
      for (const [name, path, selector] of views) {
        await page.goto(`${url}${path}`);
        // From the start of navigation to the rows being in the page.
        const at = await page.waitForFunction(
          (sel) => {
            const d = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document;
            return d.querySelector(sel)
              ? (globalThis as unknown as { performance: { now(): number } }).performance.now()
              : 0;
          },
          selector,
          { polling: "raf" },
        );
        if (round > 0) render[name]!.push(Number(await at.jsonValue())); // the first round warms caches
      }
    }
  } finally {
    await browser.close();
  }
  return Object.fromEntries(
    Object.entries(render).map(([k, v]) => [k, { p50: round3(percentile(v, 50)), max: round3(Math.max(...v)) }]),
  );
}

/** Scale: rebuild, memory, answer and render times at RECORDS records. */
async function scale() {
  const nats = new NatsServerLauncher();
  await nats.start();
  try {
    // The same views with 1,000 records (the same rows on screen), in the same run: what the page
    // itself costs on this machine, to compare with the same pages at RECORDS records.
    await seed(nats.url, 0, BASELINE);
    const empty = new JetqService({
      nats: { servers: nats.url },
      http: { host: "127.0.0.1", port: 0 },
      log: silentLogger,
    });
    await empty.start();
    await empty.dashboard!.catalog.whenReady();
    const baseline = await renderTimes(empty.gateway!.url);
    await empty.stop();
    say(`writing ${RECORDS} task records and ${WAITING} waiting items`);
    const { writeMs } = await seed(nats.url, BASELINE, RECORDS);
    say(`written in ${Math.round(writeMs)} ms; starting jetq serve`);
    const heap0 = heap();
    const service = new JetqService({
      nats: { servers: nats.url },
      http: { host: "127.0.0.1", port: 0 },
      log: silentLogger,
    });
    await service.start();
    await service.dashboard!.catalog.whenReady();
    const status = service.dashboard!.catalog.status();
    const heap1 = heap();
    const url = service.gateway!.url;
    say(`index built: ${status.tasks} tasks in ${status.buildMs} ms`);
    const http: Record<string, { p50: number; p99: number; max: number }> = {};
    http.overview = await timeGet(`${url}/ui/api/overview`, 20);
    for (const s of ["new", ...MIX.map(([s]) => s), TaskState.Complete])
      http[`first page: ${s}`] = await timeGet(`${url}/v1/tasks?queue=emails&state=${s}&limit=25`, 10);
    http["first page: all queues, expired"] = await timeGet(`${url}/v1/tasks?state=expired&limit=25`, 10);
    http["first page: type filter"] = await timeGet(
      `${url}/v1/tasks?queue=emails&state=complete&type=send&limit=25`,
      10,
    );
    http["page 100 (cursor) of complete"] = await (async () => {
      let cursor = "";
      for (let i = 0; i < 99; i++) {
        const r = (await (await fetch(`${url}/v1/tasks?queue=emails&state=complete&limit=25${cursor}`)).json()) as {
          next_cursor: string;
        };
        cursor = `&cursor=${r.next_cursor}`;
      }
      return timeGet(`${url}/v1/tasks?queue=emails&state=complete&limit=25${cursor}`, 10);
    })();
    const render = await renderTimes(url);
    await service.stop();
    return {
      records: RECORDS,
      waiting: WAITING,
      write_ms: Math.round(writeMs),
      write_per_s: Math.round((RECORDS - BASELINE) / (writeMs / 1000)),
      rebuild_ms: status.buildMs,
      rebuild_per_s: status.buildMs ? Math.round(status.tasks / (status.buildMs / 1000)) : undefined,
      indexed: status.tasks,
      heap_mb: round3((heap1 - heap0) / 1048576),
      index_estimate_mb: round3(service.dashboard!.catalog.index.byteLength() / 1048576),
      bytes_per_task: Math.round((heap1 - heap0) / status.tasks),
      http_ms: http,
      render_ms: render,
      render_empty_ms: baseline,
    };
  } finally {
    await nats.stop();
  }
}

/** One run of JOBS tasks through a library worker; CPU of nats-server (and of serve, if given). */
async function jobsRun(nats: NatsServerLauncher, pid: number, queue: string, servePid?: number) {
  const c = await Client.connect({ servers: nats.url, queue, logger: silentLogger, concurrency: 50 });
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => {
    finish = r;
  });
  const ac = new AbortController();
  const router = new Router().handle("job", () => {
    if (++done === JOBS) finish();
    return null;
  });
  const api0 = (await handlesOf(c.storage).jsm.getAccountInfo()).api.total;
  const s0 = processCpuMs(pid)!;
  const v0 = servePid ? processCpuMs(servePid)! : 0;
  const t0 = performance.now();
  await c.enqueueMany(Array.from({ length: JOBS }, (_, i) => newTask("job", { i })));
  const run = c.run(router, { signal: ac.signal });
  await all;
  const ms = performance.now() - t0;
  const server = processCpuMs(pid)! - s0;
  const serve = servePid ? processCpuMs(servePid)! - v0 : 0;
  const apiCalls = (await handlesOf(c.storage).jsm.getAccountInfo()).api.total - api0 - 1;
  ac.abort();
  await run;
  await c.close();
  return {
    server_us_per_job: (server * 1000) / JOBS,
    serve_us_per_job: (serve * 1000) / JOBS,
    jobs_per_s: JOBS / (ms / 1000),
    api_calls: apiCalls,
  };
}

/** Hot path: nats-server CPU per job without and with jetq serve (and a viewer) running. */
async function hotPath() {
  const nats = new NatsServerLauncher();
  await nats.start();
  const pid = findPid(join(nats.store, "nats-server.conf"))!;
  const without: Awaited<ReturnType<typeof jobsRun>>[] = [];
  const withServe: Awaited<ReturnType<typeof jobsRun>>[] = [];
  try {
    let n = 0;
    const withOne = async () => {
      const serve = new JetqServeProcess(nats.url, 60_000, ["--http", "127.0.0.1:0"]);
      await serve.start();
      try {
        // A dashboard viewer on the live stream, as when someone watches.
        const viewer = new AbortController();
        const res = await fetch(`${serve.httpUrl}/ui/api/live`, { signal: viewer.signal });
        const reading = res.body!.pipeTo(new WritableStream()).catch(() => undefined);
        withServe.push(await jobsRun(nats, pid, `hot${n++}`, serve.pid));
        viewer.abort();
        await reading;
      } finally {
        await serve.stop();
      }
    };
    // Alternate which goes first, so a drift of the machine's load favours neither.
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 1) await withOne();
      without.push(await jobsRun(nats, pid, `hot${n++}`));
      if (r % 2 === 0) await withOne();
    }
  } finally {
    await nats.stop();
  }
  const med = (xs: number[]) => round3(percentile(xs, 50));
  return {
    jobs: JOBS,
    rounds: ROUNDS,
    without: {
      server_us_per_job: med(without.map((x) => x.server_us_per_job)),
      jobs_per_s: Math.round(med(without.map((x) => x.jobs_per_s))),
      jetstream_api_calls: med(without.map((x) => x.api_calls)),
      rounds: without,
    },
    with_serve: {
      server_us_per_job: med(withServe.map((x) => x.server_us_per_job)),
      serve_us_per_job: med(withServe.map((x) => x.serve_us_per_job)),
      jobs_per_s: Math.round(med(withServe.map((x) => x.jobs_per_s))),
      jetstream_api_calls: med(withServe.map((x) => x.api_calls)),
      rounds: withServe,
    },
  };
}

const scaleResult = args.only === "hot" ? undefined : await scale();
if (scaleResult) printScale(scaleResult);
const hot = args.only === "scale" ? undefined : await hotPath();
if (hot) printHot(hot);
const result = {
  machine: machineInfo(execFileSync("nats-server", ["--version"], { encoding: "utf8" }).trim(), "n/a"),
  at: new Date().toISOString(),
  load_average: loadavg(),
  ...(scaleResult ? { scale: scaleResult } : {}),
  ...(hot ? { hot_path: hot } : {}),
};
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/dashboard.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);

function printScale(s: Awaited<ReturnType<typeof scale>>): void {
  console.log(`\nTask index at ${s.records.toLocaleString()} records (+${s.waiting.toLocaleString()} waiting)`);
  console.log(`  written directly: ${s.write_ms} ms (${s.write_per_s.toLocaleString()}/s)`);
  console.log(
    `  rebuild: ${s.rebuild_ms} ms (${s.rebuild_per_s?.toLocaleString()} records/s), ${s.indexed.toLocaleString()} indexed`,
  );
  console.log(
    `  memory: ${s.heap_mb} MB (JS heap + array buffers; ${s.bytes_per_task} B/task; the index's arrays ${s.index_estimate_mb} MB)`,
  );
  console.log("  HTTP answer times (ms, p50 / p99):");
  for (const [k, v] of Object.entries(s.http_ms)) console.log(`    ${k.padEnd(34)} ${v.p50} / ${v.p99}`);
  console.log(
    `  Chromium render, navigation start to rows on screen (ms, p50 / max of 10; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores):`,
  );
  for (const [k, v] of Object.entries(s.render_ms))
    console.log(
      `    ${k.padEnd(34)} ${v.p50} / ${v.max}  (same view at ${BASELINE.toLocaleString()} records: ${s.render_empty_ms[k]?.p50})  ${v.p50 < 300 ? "< 300 ms: met" : "NOT met"}`,
    );
}

function printHot(h: Awaited<ReturnType<typeof hotPath>>): void {
  console.log(`\nHot path, ${h.jobs.toLocaleString()} jobs, median of ${h.rounds} rounds (nats-server CPU per job):`);
  const each = (r: { server_us_per_job: number }[]) => r.map((x) => Math.round(x.server_us_per_job)).join(", ");
  console.log(`  rounds: without ${each(h.without.rounds)}; with ${each(h.with_serve.rounds)} µs/job`);
  console.log(
    `  without jetq serve: ${h.without.server_us_per_job} µs/job (${h.without.jobs_per_s}/s), ${h.without.jetstream_api_calls} JetStream API calls in the run`,
  );
  console.log(
    `  with jetq serve + a dashboard viewer: ${h.with_serve.server_us_per_job} µs/job (${h.with_serve.jobs_per_s}/s), ${h.with_serve.jetstream_api_calls} JetStream API calls; serve itself ${h.with_serve.serve_us_per_job} µs/job`,
  );
}
