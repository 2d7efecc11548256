/**
 * Processing throughput with a no-op handler at a given handler concurrency.
 * - `end-to-end`: the worker runs first; from the first enqueue (batched) to the last completion.
 * - `drain`: N jobs are enqueued first (untimed); from starting the worker to the last completion.
 * Completion means the outcome is stored: jetq's work-queue stream is empty (every item
 * acknowledged after its record was written), BullMQ's `completed` event fired for every job,
 * raw JetStream's stream is empty.
 */
import { deferred, until, withTimeout } from "../clock.js";
import { Stopwatch, type Timed, timedDetail } from "../cpu.js";
import { ASYNCJOBS_ENQUEUERS, runAsyncjobs } from "../sides/asyncjobs.js";
import {
  addBulkChunked,
  BULL_JOB_NAME,
  flushRedis,
  openBullQueue,
  startBullWorker,
  uniqueBullQueue,
} from "../sides/bullmq.js";
import { cleanupJetq, connectJetq, jetqDrained, jetqTasks, startJetqWorker, uniqueQueue } from "../sides/jetq.js";
import { RAW_RECORD_BYTES, RawQueue, rawPayload } from "../sides/raw.js";
import { ratePerSecond } from "../stats.js";
import { type BenchContext, QUEUE_SIDES, type Scenario, type SideId, type SideRun, SideUnavailable } from "../types.js";

/** Whether jobs are enqueued while the worker runs (`end-to-end`) or before it starts (`drain`). */
export type ProcessMode = "end-to-end" | "drain";

/** Generous limit for one run: a stuck run fails instead of hanging the benchmark. */
const timeoutFor = (n: number) => 300_000 + n * 5;

async function runJetq(mode: ProcessMode, c: number, ctx: BenchContext): Promise<Timed> {
  const n = ctx.options.jobs;
  const url = ctx.servers.nats.url;
  const queue = uniqueQueue();
  const producer = await connectJetq(url, queue, c, Math.max(100, c));
  const workerClient = await connectJetq(url, queue, c, Math.max(100, c));
  let started = 0;
  if (mode === "drain") await producer.enqueueMany(jetqTasks(n));
  // drain: the clock includes starting the worker; end-to-end: the worker is already pulling.
  const sw = new Stopwatch(ctx.servers.serverPid("jetq")).start();
  const worker = startJetqWorker(workerClient, () => {
    started++;
  });
  if (mode === "end-to-end") sw.start();
  try {
    if (mode === "end-to-end") await producer.enqueueMany(jetqTasks(n));
    await until(() => started >= n, timeoutFor(n), "jetq handlers started", 2);
    await jetqDrained(producer, queue, timeoutFor(n));
    return sw.stop();
  } finally {
    await worker.stop();
    await cleanupJetq(producer, queue);
    await producer.close();
  }
}

async function runBull(side: "bullmq" | "bullmq-aof", mode: ProcessMode, c: number, ctx: BenchContext): Promise<Timed> {
  const n = ctx.options.jobs;
  const redis = ctx.servers.redis[side];
  const name = uniqueBullQueue();
  const q = await openBullQueue(redis, name);
  const entries = () => Array.from({ length: n }, (_, i) => ({ name: BULL_JOB_NAME, data: { i } }));
  const done = deferred<Timed>();
  const sw = new Stopwatch(ctx.servers.serverPid(side));
  let completed = 0;
  if (mode === "drain") await addBulkChunked(q, entries(), ctx.options.bulkChunk);
  const worker = await startBullWorker(
    redis,
    name,
    c,
    () => undefined,
    () => {
      if (++completed === n) done.resolve(sw.stop());
    },
    false,
  );
  try {
    sw.start();
    void worker.run();
    if (mode === "end-to-end") await addBulkChunked(q, entries(), ctx.options.bulkChunk);
    return await withTimeout(done.promise, timeoutFor(n), "BullMQ jobs completed");
  } finally {
    await worker.close();
    await q.close();
    await flushRedis(redis);
  }
}

/**
 * Raw JetStream at concurrency `c`; with `record`, each message's acknowledgement waits for an
 * outcome record stored under its stream sequence (the floor of a queue that keeps outcomes).
 */
async function runRaw(mode: ProcessMode, c: number, ctx: BenchContext, record = false): Promise<Timed> {
  const n = ctx.options.jobs;
  const raw = await RawQueue.open(ctx.servers.nats.url, Math.max(100, c));
  let consumed = 0;
  try {
    const store = record ? await raw.recordStore() : undefined;
    if (mode === "drain") await raw.publishWindowed(n, ctx.options.publishWindow, rawPayload);
    const sw = new Stopwatch(ctx.servers.serverPid("raw")).start();
    const messages = await raw.consume(c, (m) => {
      consumed++;
      return store?.(String(m.seq), rawPayload(m.seq, RAW_RECORD_BYTES));
    });
    try {
      if (mode === "end-to-end") await raw.publishWindowed(n, ctx.options.publishWindow, rawPayload);
      await until(() => consumed >= n, timeoutFor(n), "raw messages consumed", 2);
      await raw.drained(timeoutFor(n));
      return sw.stop();
    } finally {
      await messages.close();
    }
  } finally {
    await raw.close();
  }
}

/** A processing scenario at handler concurrency `c`. */
export function processScenario(mode: ProcessMode, c: number): Scenario {
  const id = mode === "end-to-end" ? `process-c${c}` : `drain-c${c}`;
  return {
    id,
    title: mode === "end-to-end" ? `process c=${c}` : `drain c=${c}`,
    description:
      mode === "end-to-end"
        ? `No-op handler, concurrency ${c}; worker started first, then N jobs enqueued in bulk (asyncjobs: EnqueueTask from ${ASYNCJOBS_ENQUEUERS} goroutines); from the first enqueue to the last stored completion.`
        : `No-op handler, concurrency ${c}; N jobs enqueued first (untimed); from starting the worker to the last stored completion.`,
    metrics: [
      {
        id: "rate",
        title: mode === "end-to-end" ? `process c=${c}` : `drain c=${c}`,
        unit: "jobs/s",
        better: "higher",
      },
    ],
    sides: [...QUEUE_SIDES, "asyncjobs"],
    async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
      const t =
        side === "jetq"
          ? await runJetq(mode, c, ctx)
          : side === "raw"
            ? await runRaw(mode, c, ctx)
            : side === "asyncjobs"
              ? await runAsyncjobs(ctx, mode === "drain" ? "drain" : "process", c)
              : await runBull(side as "bullmq" | "bullmq-aof", mode, c, ctx);
      return { values: { rate: ratePerSecond(ctx.options.jobs, t.ms) }, detail: timedDetail(t) };
    },
  };
}

/**
 * The floor of server work for a queue that stores each job's outcome: raw JetStream's process
 * c=`c` where every acknowledgement waits for a stored outcome record (one more stored write per
 * job, as jetq's final record). Raw only; its server CPU per job is what the server-CPU target's
 * 2× of raw JetStream is set against.
 */
export function rawRecordScenario(c: number): Scenario {
  return {
    id: `raw-record-c${c}`,
    title: `raw JetStream + outcome record c=${c}`,
    description: `Raw JetStream's process c=${c} with one more stored write per job: each acknowledgement waits for an outcome record (${RAW_RECORD_BYTES} bytes, one per subject, like jetq's task records) — the floor of a queue that keeps outcomes.`,
    metrics: [{ id: "rate", title: `raw + outcome record c=${c}`, unit: "jobs/s", better: "higher" }],
    sides: ["raw"],
    async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
      if (side !== "raw") throw new SideUnavailable("raw JetStream only");
      const t = await runRaw("end-to-end", c, ctx, true);
      return { values: { rate: ratePerSecond(ctx.options.jobs, t.ms) }, detail: timedDetail(t) };
    },
  };
}
