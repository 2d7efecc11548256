/**
 * Enqueue throughput: N jobs one by one (each awaited before the next) and batched (jetq
 * `enqueueMany`, BullMQ `addBulk` in chunks, raw JetStream publishes with a window).
 * Measured from the first call to the last acknowledgement; job objects are built inside the window.
 */

import { newTask } from "../../src/index.js";
import { Stopwatch, type Timed, timedDetail } from "../cpu.js";
import { ASYNCJOBS_ENQUEUERS, runAsyncjobs } from "../sides/asyncjobs.js";
import { addBulkChunked, BULL_JOB_NAME, flushRedis, openBullQueue, uniqueBullQueue } from "../sides/bullmq.js";
import { cleanupJetq, connectJetq, JETQ_TASK_TYPE, jetqTasks, uniqueQueue } from "../sides/jetq.js";
import { RawQueue, rawPayload } from "../sides/raw.js";
import { ratePerSecond } from "../stats.js";
import { type BenchContext, QUEUE_SIDES, type Scenario, type SideId, type SideRun } from "../types.js";

type Mode = "sequential" | "batched";

/** Times `work` (wall clock and CPU of this process and of the side's server). */
async function timed(ctx: BenchContext, side: SideId, work: () => Promise<void>): Promise<Timed> {
  const sw = new Stopwatch(ctx.servers.serverPid(side)).start();
  await work();
  return sw.stop();
}

async function runJetq(mode: Mode, ctx: BenchContext): Promise<Timed> {
  const n = ctx.options.jobs;
  const queue = uniqueQueue();
  const client = await connectJetq(ctx.servers.nats.url, queue);
  try {
    return await timed(ctx, "jetq", async () => {
      if (mode === "sequential") {
        for (let i = 0; i < n; i++) await client.enqueue(newTask(JETQ_TASK_TYPE, { i }));
      } else {
        await client.enqueueMany(jetqTasks(n));
      }
    });
  } finally {
    await cleanupJetq(client, queue);
    await client.close();
  }
}

async function runBull(side: "bullmq" | "bullmq-aof", mode: Mode, ctx: BenchContext): Promise<Timed> {
  const n = ctx.options.jobs;
  const redis = ctx.servers.redis[side];
  const q = await openBullQueue(redis, uniqueBullQueue());
  try {
    return await timed(ctx, side, async () => {
      if (mode === "sequential") {
        for (let i = 0; i < n; i++) await q.add(BULL_JOB_NAME, { i });
      } else {
        const entries = Array.from({ length: n }, (_, i) => ({ name: BULL_JOB_NAME, data: { i } }));
        await addBulkChunked(q, entries, ctx.options.bulkChunk);
      }
    });
  } finally {
    await q.close();
    await flushRedis(redis);
  }
}

async function runRaw(mode: Mode, ctx: BenchContext): Promise<Timed> {
  const n = ctx.options.jobs;
  const raw = await RawQueue.open(ctx.servers.nats.url);
  try {
    return await timed(ctx, "raw", async () => {
      if (mode === "sequential") await raw.publishSequential(n, rawPayload);
      else await raw.publishWindowed(n, ctx.options.publishWindow, rawPayload);
    });
  } finally {
    await raw.close();
  }
}

function enqueueScenario(mode: Mode): Scenario {
  return {
    id: `enqueue-${mode}`,
    title: `enqueue ${mode}`,
    description:
      mode === "sequential"
        ? "N jobs enqueued one by one, each awaited before the next (jetq enqueue, BullMQ add, raw js.publish)."
        : `N jobs enqueued in bulk: jetq enqueueMany (4096 in flight), BullMQ addBulk in sequential chunks, raw js.publish with a window, asyncjobs EnqueueTask from ${ASYNCJOBS_ENQUEUERS} goroutines (it has no bulk call).`,
    metrics: [{ id: "rate", title: `enqueue ${mode}`, unit: "jobs/s", better: "higher" }],
    sides: [...QUEUE_SIDES, "asyncjobs"],
    async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
      const t =
        side === "jetq"
          ? await runJetq(mode, ctx)
          : side === "raw"
            ? await runRaw(mode, ctx)
            : side === "asyncjobs"
              ? await runAsyncjobs(ctx, mode === "sequential" ? "enqueue-sequential" : "enqueue-parallel")
              : await runBull(side as "bullmq" | "bullmq-aof", mode, ctx);
      return { values: { rate: ratePerSecond(ctx.options.jobs, t.ms) }, detail: timedDetail(t) };
    },
  };
}

/** Enqueue one by one, awaited. */
export const enqueueSequential: Scenario = enqueueScenario("sequential");
/** Enqueue in bulk / pipelined. */
export const enqueueBatched: Scenario = enqueueScenario("batched");
