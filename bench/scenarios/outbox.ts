/**
 * The outbox face: a `Client` with an `OutboxPublisher` (SQLite, `synchronous: "full"`), against the
 * same client without one, on a nats-server of their own (the benchmark's binary, a fresh store per
 * run) because the outage row stops it. Three rows:
 * - `sequential`: `outboxJobs / 5` tasks enqueued one by one, each awaited (through the outbox: until
 *   it is committed to the file; the library: until JetStream acknowledged it);
 * - `batched`: `outboxJobs` tasks in one `enqueueMany`, until the last is stored in JetStream (through
 *   the outbox: written, then flushed and acknowledged; the library: acknowledged);
 * - `drain`: with NATS stopped, `outboxJobs` tasks enqueued through the outbox; NATS started; from the
 *   publisher's reconnection to the last task stored in JetStream. The library column repeats its
 *   `enqueueMany` rate, the reference of a backlog sent with nothing else to do.
 * Each phase checks that the queue holds exactly what was enqueued.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, newTask, silentLogger } from "../../src/index.js";
import { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { OutboxPublisher } from "../../src/outbox/index.js";
import { monoMs } from "../clock.js";
import { connectJetq, JETQ_TASK_TYPE, jetqQueueDepth, jetqTasks, uniqueQueue } from "../sides/jetq.js";
import { ratePerSecond } from "../stats.js";
import type { BenchContext, Scenario, SideId, SideRun } from "../types.js";

/** A nats-server of one run, its store in `dir`, so that stopping and starting it keeps the queue. */
async function ownServer(ctx: BenchContext, dir: string): Promise<NatsServerLauncher> {
  return new NatsServerLauncher({ binary: ctx.servers.natsBinary, storeDir: join(dir, "nats") }).start();
}

/** Throws unless `queue` holds exactly `n` work items; then empties it for the next phase. */
async function expectDepth(client: Client, queue: string, n: number, what: string): Promise<void> {
  const depth = await jetqQueueDepth(client, queue);
  if (depth !== n) throw new Error(`${what}: ${n} enqueued, the queue holds ${depth}`);
  await client.admin.purgeQueue(queue);
}

/** Awaited enqueues, one at a time; jobs/s. */
async function sequential(client: Client, n: number): Promise<number> {
  const t0 = monoMs();
  for (let i = 0; i < n; i++) await client.enqueue(newTask(JETQ_TASK_TYPE, { i }));
  return ratePerSecond(n, monoMs() - t0);
}

async function runOutbox(ctx: BenchContext, dir: string, server: NatsServerLauncher): Promise<SideRun> {
  const n = ctx.options.outboxJobs;
  const seq = Math.max(1, Math.ceil(n / 5));
  const queue = uniqueQueue();
  const plain = await connectJetq(server.url, queue);
  const outbox = new OutboxPublisher({ outbox: join(dir, "outbox.db"), connection: plain.nc, log: silentLogger });
  outbox.on("error", () => undefined); // failed publishes while NATS is down are retried
  outbox.start();
  const client = await connectJetq(server.url, queue, 10, 100, { connection: plain.nc, outbox });
  try {
    const values: Record<string, number> = {};
    values.sequential = await sequential(client, seq);
    await outbox.drained();
    await expectDepth(plain, queue, seq, "outbox sequential");

    let t0 = monoMs();
    await client.enqueueMany(jetqTasks(n));
    await outbox.drained();
    values.batched = ratePerSecond(n, monoMs() - t0);
    await expectDepth(plain, queue, n, "outbox batched");

    const down = new Promise<void>((resolve) => outbox.on("connection", (s) => s === "disconnected" && resolve()));
    await server.stop();
    await down;
    await client.enqueueMany(jetqTasks(n));
    const backlog = outbox.stats().pending;
    const up = new Promise<void>((resolve) => outbox.on("connection", (s) => s === "connected" && resolve()));
    await server.start();
    await up;
    t0 = monoMs();
    await outbox.drained();
    values.drain = ratePerSecond(n, monoMs() - t0);
    await expectDepth(plain, queue, n, "outbox drain");
    return { values, detail: { sequentialJobs: seq, jobs: n, backlogAtRestart: backlog } };
  } finally {
    await outbox.stop();
    await client.close();
    await plain.admin.deleteQueue(queue).catch(() => undefined);
    await plain.close();
  }
}

async function runLibrary(ctx: BenchContext, server: NatsServerLauncher): Promise<SideRun> {
  const n = ctx.options.outboxJobs;
  const seq = Math.max(1, Math.ceil(n / 5));
  const queue = uniqueQueue();
  const client = await connectJetq(server.url, queue);
  try {
    const s = await sequential(client, seq);
    await expectDepth(client, queue, seq, "library sequential");
    const t0 = monoMs();
    await client.enqueueMany(jetqTasks(n));
    const batched = ratePerSecond(n, monoMs() - t0);
    await expectDepth(client, queue, n, "library batched");
    return { values: { sequential: s, batched, drain: batched }, detail: { sequentialJobs: seq, jobs: n } };
  } finally {
    await client.admin.deleteQueue(queue).catch(() => undefined);
    await client.close();
  }
}

/** The outbox rows: a client with an outbox vs the same client without, in the same run. */
export const outboxScenario: Scenario = {
  id: "outbox",
  title: "outbox (Client with an OutboxPublisher)",
  description:
    "A Client enqueueing through an OutboxPublisher (SQLite, synchronous full) vs the same Client without one, each on a nats-server of its own: outboxJobs/5 awaited enqueues (outbox: on disk; library: acknowledged by JetStream), an enqueueMany of outboxJobs until the last is in JetStream, and the drain of outboxJobs enqueued while NATS was stopped, from the reconnection to the last stored (library column: its enqueueMany rate).",
  metrics: [
    { id: "sequential", title: "outbox enqueue sequential", unit: "jobs/s", better: "higher" },
    { id: "batched", title: "outbox enqueueMany → JetStream", unit: "jobs/s", better: "higher" },
    { id: "drain", title: "outbox drain after NATS is back", unit: "jobs/s", better: "higher" },
  ],
  sides: ["jetq", "library"],
  async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
    const dir = await mkdtemp(join(tmpdir(), "jetq-bench-outbox-"));
    const server = await ownServer(ctx, dir);
    try {
      return side === "jetq" ? await runOutbox(ctx, dir, server) : await runLibrary(ctx, server);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
