/**
 * Enqueue→start latency at low load: N jobs paced at R per second (each enqueue call fired on
 * schedule, not waiting for the previous one), a worker with concurrency 10; the latency of a job
 * is the time from its enqueue call to its handler's start, both taken in this process.
 */

import { newTask } from "../../src/index.js";
import { monoMs, sleep, until } from "../clock.js";
import { BULL_JOB_NAME, flushRedis, openBullQueue, startBullWorker, uniqueBullQueue } from "../sides/bullmq.js";
import { cleanupJetq, connectJetq, JETQ_TASK_TYPE, startJetqWorker, uniqueQueue } from "../sides/jetq.js";
import { RawQueue, rawPayload } from "../sides/raw.js";
import { percentile } from "../stats.js";
import { type BenchContext, QUEUE_SIDES, type Scenario, type SideId, type SideRun } from "../types.js";

const CONCURRENCY = 10;

/** Start and end of every job, by job index. */
class Timings {
  readonly sent: number[];
  readonly latency: number[] = [];
  readonly errors: Error[] = [];
  started = 0;

  constructor(readonly n: number) {
    this.sent = new Array<number>(n).fill(Number.NaN);
  }

  /** Records the start of job `i`'s handler. */
  start(i: unknown): void {
    const sent = typeof i === "number" ? this.sent[i] : undefined;
    if (sent === undefined || Number.isNaN(sent)) return;
    this.latency.push(monoMs() - sent);
    this.started++;
  }
}

/**
 * Calls `send(i)` for i in 0..n-1 at `rate` per second, on schedule (a late tick sends the backlog at once).
 */
async function paced(n: number, rate: number, t: Timings, send: (i: number) => Promise<unknown>): Promise<void> {
  const t0 = monoMs();
  const pending: Promise<unknown>[] = [];
  let i = 0;
  while (i < n) {
    const due = Math.min(n, Math.floor(((monoMs() - t0) * rate) / 1000) + 1);
    while (i < due) {
      t.sent[i] = monoMs();
      pending.push(
        send(i).catch((err: Error) => {
          t.errors.push(err);
        }),
      );
      i++;
    }
    await sleep(1);
  }
  await Promise.all(pending);
  if (t.errors.length > 0) throw new Error(`${t.errors.length} enqueues failed: ${t.errors[0]?.message}`);
}

const payloadIndex = (payload: unknown): unknown =>
  typeof payload === "object" && payload !== null && "i" in payload ? payload.i : undefined;

async function runJetq(t: Timings, ctx: BenchContext): Promise<void> {
  const url = ctx.servers.nats.url;
  const queue = uniqueQueue();
  const producer = await connectJetq(url, queue, CONCURRENCY);
  const worker = startJetqWorker(await connectJetq(url, queue, CONCURRENCY), (task) =>
    t.start(payloadIndex(task.payload)),
  );
  try {
    await paced(t.n, ctx.options.latencyRate, t, (i) => producer.enqueue(newTask(JETQ_TASK_TYPE, { i })));
    await until(() => t.started >= t.n, 60_000, "jetq handlers started", 2);
  } finally {
    await worker.stop();
    await cleanupJetq(producer, queue);
    await producer.close();
  }
}

async function runBull(side: "bullmq" | "bullmq-aof", t: Timings, ctx: BenchContext): Promise<void> {
  const redis = ctx.servers.redis[side];
  const name = uniqueBullQueue();
  const q = await openBullQueue(redis, name);
  const worker = await startBullWorker(redis, name, CONCURRENCY, (job) => t.start(job.data.i));
  try {
    await paced(t.n, ctx.options.latencyRate, t, (i) => q.add(BULL_JOB_NAME, { i }));
    await until(() => t.started >= t.n, 60_000, "BullMQ handlers started", 2);
  } finally {
    await worker.close();
    await q.close();
    await flushRedis(redis);
  }
}

async function runRaw(t: Timings, ctx: BenchContext): Promise<void> {
  const raw = await RawQueue.open(ctx.servers.nats.url);
  const messages = await raw.consume(CONCURRENCY, (m) => t.start(payloadIndex(m.json<unknown>())));
  try {
    await paced(t.n, ctx.options.latencyRate, t, (i) => raw.js.publish(raw.subject, rawPayload(i)));
    await until(() => t.started >= t.n, 60_000, "raw messages consumed", 2);
  } finally {
    await messages.close();
    await raw.close();
  }
}

/** Enqueue→start latency at a paced low load. */
export const latencyScenario: Scenario = {
  id: "latency",
  title: "enqueue→start latency",
  description:
    "N jobs paced at R/s (each enqueue fired on schedule), worker concurrency 10; latency = handler start − enqueue call, same process.",
  metrics: [
    { id: "p50", title: "enqueue→start p50", unit: "ms", better: "lower" },
    { id: "p99", title: "enqueue→start p99", unit: "ms", better: "lower" },
  ],
  sides: QUEUE_SIDES,
  async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
    const t = new Timings(ctx.options.latencyJobs);
    if (side === "jetq") await runJetq(t, ctx);
    else if (side === "raw") await runRaw(t, ctx);
    else await runBull(side as "bullmq" | "bullmq-aof", t, ctx);
    return {
      values: { p50: percentile(t.latency, 50), p99: percentile(t.latency, 99) },
      samples: t.latency,
    };
  },
};
