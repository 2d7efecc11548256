/**
 * Delayed delivery: N jobs with due times spread evenly over a few seconds, the first one a lead
 * time after the start (time to enqueue them all). Lateness = moment of delivery − due time, on
 * the wall clock both systems schedule by.
 * - BullMQ: jobs with the `delay` option; delivery = handler start (worker concurrency 100).
 * - jetq, `delayed`: the Gozo-compatible scheduler of `jetq serve` (a child process): a core NATS
 *   message to `gozo` with `Gozo-When` (fractional epoch seconds) and `Gozo-Id`, replying to an
 *   inbox; delivery = arrival of the fired message on that inbox.
 * - jetq, `delayed-tasks`: tasks with `runAt` (`enqueueMany`), fired into their queue by the same
 *   `jetq serve`; delivery = handler start (worker concurrency 100), as on the BullMQ side.
 */
import { randomUUID } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers, type Msg } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { newTask } from "../../src/index.js";
import { SCHEDULES_STREAM } from "../../src/jobs/storage/schedule-codec.js";
import { sleep, until } from "../clock.js";
import { JetqServeProcess } from "../jetq-serve-process.js";
import { BULL_JOB_NAME, flushRedis, openBullQueue, startBullWorker, uniqueBullQueue } from "../sides/bullmq.js";
import { cleanupJetq, connectJetq, JETQ_TASK_TYPE, startJetqWorker, uniqueQueue } from "../sides/jetq.js";
import { percentile } from "../stats.js";
import { type BenchContext, type Scenario, type SideId, type SideRun, SideUnavailable } from "../types.js";

/** The Gozo subject `jetq serve` listens on by default. */
const GOZO_SUBJECT = "gozo";
const BULL_CONCURRENCY = 100;

/** Due times of one run and the lateness of each delivery. */
class Lateness {
  readonly due: number[];
  readonly late: number[] = [];
  private readonly seen: boolean[];
  received = 0;

  constructor(n: number, spreadMs: number, leadMs: number) {
    const first = Date.now() + leadMs;
    this.due = Array.from({ length: n }, (_, i) => Math.round(first + (i * spreadMs) / Math.max(1, n - 1)));
    this.seen = new Array<boolean>(n).fill(false);
  }

  get n(): number {
    return this.due.length;
  }

  /** Records the delivery of job `i` now (duplicates are ignored). */
  deliver(i: unknown): void {
    if (typeof i !== "number" || this.seen[i] !== false) return;
    this.seen[i] = true;
    this.late.push(Date.now() - (this.due[i] ?? 0));
    this.received++;
  }

  /** Waits until every job arrived or `graceMs` past the last due time; returns how many are missing. */
  async settle(graceMs: number): Promise<number> {
    const end = (this.due[this.n - 1] ?? Date.now()) + graceMs;
    while (this.received < this.n && Date.now() < end) await sleep(10);
    return this.n - this.received;
  }

  result(detail: Record<string, number | string>): SideRun {
    return {
      values: { p50: percentile(this.late, 50), p99: percentile(this.late, 99), max: percentile(this.late, 100) },
      samples: this.late,
      detail: { ...detail, missing: this.n - this.received },
    };
  }
}

async function runBull(side: "bullmq" | "bullmq-aof", ctx: BenchContext): Promise<SideRun> {
  const o = ctx.options;
  const redis = ctx.servers.redis[side];
  const name = uniqueBullQueue();
  const q = await openBullQueue(redis, name);
  let l: Lateness | undefined;
  const worker = await startBullWorker(redis, name, BULL_CONCURRENCY, (job) => l?.deliver(job.data.i));
  l = new Lateness(o.delayedJobs, o.delayedSpreadMs, o.delayedLeadMs);
  try {
    const t0 = Date.now();
    for (let i = 0; i < l.n; i += o.bulkChunk) {
      const now = Date.now();
      const chunk = l.due.slice(i, i + o.bulkChunk).map((due, k) => ({
        name: BULL_JOB_NAME,
        data: { i: i + k, due },
        opts: { delay: Math.max(0, due - now) },
      }));
      await q.addBulk(chunk);
    }
    const enqueueMs = Date.now() - t0;
    await l.settle(o.delayedGraceMs);
    return l.result({ enqueueMs });
  } finally {
    await worker.close();
    await q.close();
    await flushRedis(redis);
  }
}

/**
 * Starts `jetq serve` as the scheduler, without its HTTP gateway (whose default address is a fixed
 * port). @throws SideUnavailable when it does not start
 */
export async function startScheduler(url: string): Promise<JetqServeProcess> {
  const serve = new JetqServeProcess(url, 30_000, ["--http", "off"]);
  try {
    await serve.start();
  } catch (err) {
    const [first = "", ...rest] = (err as Error).message.split("\n");
    const tail = rest.join(" ").replace(/\s+/g, " ").trim().slice(-600);
    throw new SideUnavailable(`jetq serve did not start: ${first}${tail ? ` (last output: ${tail})` : ""}`);
  }
  return serve;
}

async function runJetq(ctx: BenchContext): Promise<SideRun> {
  const o = ctx.options;
  const url = ctx.servers.nats.url;
  const serve = await startScheduler(url);
  const nc = await connect({ servers: url, name: "bench-gozo" });
  try {
    const run = randomUUID().slice(0, 8);
    const inbox = `bench.gozo.${run}`;
    const l = new Lateness(o.delayedJobs, o.delayedSpreadMs, o.delayedLeadMs);
    nc.subscribe(inbox, {
      callback: (err: Error | null, m: Msg) => {
        if (err) return;
        try {
          l.deliver(m.json<{ i?: unknown } | null>()?.i);
        } catch {
          // Not a fired message of ours (e.g. an error reply): ignored.
        }
      },
    });
    await nc.flush();
    const t0 = Date.now();
    for (let i = 0; i < l.n; i++) {
      const h = headers();
      h.set("Gozo-When", ((l.due[i] ?? 0) / 1000).toFixed(3));
      h.set("Gozo-Id", `bench-${run}-${i}`);
      nc.publish(GOZO_SUBJECT, Buffer.from(`{"i":${i}}`), { reply: inbox, headers: h });
      if (i % 1000 === 999) await nc.flush();
    }
    await nc.flush();
    const enqueueMs = Date.now() - t0;
    // Give up early when nothing at all comes back: the scheduler is not there (yet).
    const firstDue = l.due[0] ?? Date.now();
    await until(
      () => l.received > 0 || Date.now() > firstDue + o.delayedGraceMs,
      o.delayedLeadMs + o.delayedGraceMs + 60_000,
      "first delivery",
      10,
    );
    if (l.received === 0) {
      throw new SideUnavailable(
        `no scheduled message came back within ${o.delayedGraceMs} ms of its due time: jetq serve answers no Gozo schedules (scheduler not built yet?)`,
      );
    }
    await l.settle(o.delayedGraceMs);
    return l.result({ enqueueMs });
  } finally {
    await serve.stop();
    // Every run starts from empty streams, as on the other sides.
    await (await jetstreamManager(nc)).streams.delete(SCHEDULES_STREAM).catch(() => undefined);
    await nc.close();
  }
}

async function runJetqTasks(ctx: BenchContext): Promise<SideRun> {
  const o = ctx.options;
  const url = ctx.servers.nats.url;
  const serve = await startScheduler(url);
  const queue = uniqueQueue();
  const producer = await connectJetq(url, queue, BULL_CONCURRENCY);
  const l = new Lateness(o.delayedJobs, o.delayedSpreadMs, o.delayedLeadMs);
  const worker = startJetqWorker(await connectJetq(url, queue, BULL_CONCURRENCY), (t) =>
    l.deliver((t.payload as { i?: unknown }).i),
  );
  try {
    const t0 = Date.now();
    await producer.enqueueMany(l.due.map((due, i) => newTask(JETQ_TASK_TYPE, { i }, { runAt: due })));
    const enqueueMs = Date.now() - t0;
    await l.settle(o.delayedGraceMs);
    return l.result({ enqueueMs });
  } finally {
    await worker.stop();
    await cleanupJetq(producer, queue);
    await jetstreamManager(producer.nc)
      .then((jsm) => jsm.streams.delete(SCHEDULES_STREAM))
      .catch(() => undefined);
    await producer.close();
    await serve.stop();
  }
}

/** A lateness scenario: BullMQ's delayed jobs against a jetq way of delaying. */
function latenessScenario(
  id: string,
  title: string,
  /** Start of the table rows' titles (the percentile follows). */
  rows: string,
  description: string,
  runJetqSide: (ctx: BenchContext) => Promise<SideRun>,
): Scenario {
  return {
    id,
    title,
    description,
    metrics: (["p50", "p99", "max"] as const).map((m) => ({
      id: m,
      title: `${rows} ${m}`,
      unit: "ms",
      better: "lower" as const,
    })),
    sides: ["jetq", "bullmq", "bullmq-aof"],
    run(side: SideId, ctx: BenchContext): Promise<SideRun> {
      if (side === "jetq") return runJetqSide(ctx);
      if (side === "bullmq" || side === "bullmq-aof") return runBull(side, ctx);
      throw new SideUnavailable("JetStream 2.9 has no delayed delivery");
    },
  };
}

/** Lateness of delayed jobs. */
export const delayedScenario = latenessScenario(
  "delayed",
  "delayed delivery lateness",
  "delayed lateness",
  "N delayed jobs due evenly over S ms (first due after a lead time); lateness = delivery − due (BullMQ: delay option, handler start; jetq: Gozo scheduler of jetq serve, arrival on the reply subject).",
  runJetq,
);

/** Lateness of delayed tasks (`runAt`), measured like BullMQ's delayed jobs: at handler start. */
export const delayedTasksScenario = latenessScenario(
  "delayed-tasks",
  "delayed task lateness",
  "delayed task lateness",
  "The delayed scenario's due times, as tasks: lateness = handler start − due (BullMQ: delay option; jetq: runAt via enqueueMany, fired into the queue by the scheduler of jetq serve; worker concurrency 100 on both).",
  runJetqTasks,
);
