/**
 * The jetq side: clients bound to a fresh queue per run, a worker that counts handler starts, and
 * clean-up so every run starts from empty streams.
 */
import { randomUUID } from "node:crypto";
import {
  Client,
  type ClientOptions,
  newTask,
  Router,
  type RunOptions,
  silentLogger,
  type Task,
} from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { queueStream, TASKS_STREAM } from "../../src/jobs/storage/layout.js";
import { until } from "../clock.js";

/** Task type every benchmark task has. */
export const JETQ_TASK_TYPE = "bench:noop";

/** A queue name unique to this run. */
export const uniqueQueue = (): string => `bench_${randomUUID().slice(0, 8)}`;

/**
 * Connects a silent client to `queue` on `url`; `maxConcurrent` is the queue's in-flight cap, `more`
 * any other client options (e.g. an existing `connection` and an `outbox`).
 */
export function connectJetq(
  url: string,
  queue: string,
  concurrency = 10,
  maxConcurrent = 100,
  more: Omit<ClientOptions, "queue" | "concurrency" | "logger"> = {},
): Promise<Client> {
  return Client.connect({
    servers: url,
    ...more,
    queue: { name: queue, maxConcurrent },
    concurrency,
    logger: silentLogger,
  });
}

/** Builds `n` benchmark tasks with a small JSON payload (`{ i }`). */
export function jetqTasks(n: number, from = 0): Task[] {
  return Array.from({ length: n }, (_, i) => newTask(JETQ_TASK_TYPE, { i: from + i }));
}

/** A running jetq worker. */
export interface JetqWorker {
  client: Client;
  /** Stops the worker and closes its client. */
  stop(): Promise<void>;
}

/**
 * Starts `client.run()` with one handler for {@link JETQ_TASK_TYPE}: an async function that calls
 * `onStart(task)` (like the BullMQ side's processor); `run` are more options of `run()` (e.g. the
 * `queues` it serves).
 */
export function startJetqWorker(
  client: Client,
  onStart: (task: Task) => void,
  run: Omit<RunOptions, "signal"> = {},
): JetqWorker {
  const router = new Router().handle(JETQ_TASK_TYPE, async (task) => {
    onStart(task);
  });
  const ac = new AbortController();
  const running = client.run(router, { ...run, signal: ac.signal });
  return {
    client,
    async stop() {
      ac.abort();
      await running;
      await client.close();
    },
  };
}

/** Number of work items still in a queue's stream (waiting or unacknowledged). */
export async function jetqQueueDepth(client: Client, queue: string): Promise<number> {
  const info = await handlesOf(client.storage).jsm.streams.info(queueStream(queue));
  return info.state.messages;
}

/**
 * Resolves once every work item of `queue` has been acknowledged (its work-queue stream is empty),
 * i.e. the outcome of the last task is recorded.
 */
export function jetqDrained(client: Client, queue: string, timeoutMs: number): Promise<void> {
  return until(async () => (await jetqQueueDepth(client, queue)) === 0, timeoutMs, `jetq queue ${queue} drained`, 5);
}

/** Deletes the queue and purges every task record, so the next run starts from empty streams. */
export async function cleanupJetq(client: Client, queue: string): Promise<void> {
  await client.admin.deleteQueue(queue).catch(() => undefined);
  await handlesOf(client.storage)
    .jsm.streams.purge(TASKS_STREAM)
    .catch(() => undefined);
}
