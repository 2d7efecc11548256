/**
 * The BullMQ side: queues and workers on one of the benchmark's redis-servers, and a flush so every
 * run starts from an empty Redis. Job options are BullMQ's defaults (completed jobs are kept, as
 * jetq keeps task records).
 */
import { randomUUID } from "node:crypto";
import { type Job, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { RedisServerLauncher } from "../redis-server-launcher.js";

/** Job name every benchmark job has. */
export const BULL_JOB_NAME = "bench:noop";

/** Data of a benchmark job. */
export interface BenchJobData {
  i: number;
  /** Intended start, epoch ms (delayed scenario only). */
  due?: number;
}

/** A queue name unique to this run. */
export const uniqueBullQueue = (): string => `bench-${randomUUID().slice(0, 8)}`;

function connection(redis: RedisServerLauncher) {
  return { host: redis.host, port: redis.port, maxRetriesPerRequest: null };
}

/** Opens a BullMQ producer queue and waits until its connection is ready. */
export async function openBullQueue(redis: RedisServerLauncher, name: string): Promise<Queue<BenchJobData>> {
  const q = new Queue<BenchJobData>(name, { connection: connection(redis) });
  await q.waitUntilReady();
  return q;
}

/**
 * Starts a BullMQ worker with `concurrency` that calls `onStart(job)` synchronously and returns;
 * `onCompleted` runs on each `completed` event (after the job is moved to completed in Redis).
 * With `autorun: false` it only connects; call `worker.run()` to start taking jobs.
 */
export async function startBullWorker(
  redis: RedisServerLauncher,
  name: string,
  concurrency: number,
  onStart: (job: Job<BenchJobData>) => void,
  onCompleted?: () => void,
  autorun = true,
): Promise<Worker<BenchJobData>> {
  const w = new Worker<BenchJobData>(
    name,
    async (job) => {
      onStart(job);
    },
    { connection: connection(redis), concurrency, autorun },
  );
  if (onCompleted) w.on("completed", onCompleted);
  w.on("error", (err) => process.stderr.write(`[bench] BullMQ worker error: ${err.message}\n`));
  await w.waitUntilReady();
  return w;
}

/** Adds `entries` with `addBulk` in sequential chunks of `chunk`. */
export async function addBulkChunked(
  q: Queue<BenchJobData>,
  entries: { name: string; data: BenchJobData; opts?: { delay: number } }[],
  chunk: number,
): Promise<void> {
  for (let i = 0; i < entries.length; i += chunk) await q.addBulk(entries.slice(i, i + chunk));
}

/** Removes every key from the server (FLUSHALL), so the next run starts from an empty Redis. */
export async function flushRedis(redis: RedisServerLauncher): Promise<void> {
  const r = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  try {
    await r.connect();
    await r.flushall();
  } finally {
    r.disconnect();
  }
}
