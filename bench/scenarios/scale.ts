/**
 * The scale of the layout, jetq only, one round (creating a thousand queues takes a while):
 * - `create`: `scaleQueues` queues created one after another (`admin.prepareQueue`), ms per queue;
 * - `through`: one worker bound to all of them (`run({ queues })`), one task enqueued into each; from
 *   the first enqueue to the last handler start, ms; `working` counts the queues whose task ran;
 * - the queues beyond the first `idleQueues` are deleted, then nats-server's CPU is measured over an
 *   idle interval twice: with no client working (`idleBase`, a quarter of the interval), and with one
 *   worker bound to the `idleQueues` queues, after a task went through each of them and its start-up
 *   settled (`idle`), in % of one core.
 */
import { randomUUID } from "node:crypto";
import { type Client, newTask, type Task } from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { TASKS_STREAM } from "../../src/jobs/storage/layout.js";
import { monoMs, sleep, until } from "../clock.js";
import { Stopwatch } from "../cpu.js";
import type { BenchOptions } from "../options.js";
import { connectJetq, JETQ_TASK_TYPE, type JetqWorker, startJetqWorker } from "../sides/jetq.js";
import { type BenchContext, type Scenario, type SideId, type SideRun, SideUnavailable } from "../types.js";

/** Time for start-ups and deletes (consumers, pulls) to settle before an idle interval: 2 s, quick 0.5 s. */
const settleMs = (o: BenchOptions) => Math.min(2_000, o.idleSeconds * 250);

/** Starts a worker on `queues` and resolves once a task enqueued into each has started; ms from the first enqueue. */
async function taskThroughEach(
  url: string,
  producer: Client,
  queues: string[],
  timeoutMs: number,
): Promise<{ worker: JetqWorker; ms: number; working: number }> {
  const seen = new Set<string>();
  const workerClient = await connectJetq(url, queues[0] ?? "", 10);
  const router = (t: Task) => {
    const q = (t.payload as { q?: unknown }).q;
    if (typeof q === "string") seen.add(q);
  };
  const worker = startJetqWorker(workerClient, router, { queues });
  const t0 = monoMs();
  for (const q of queues) await producer.enqueue(newTask(JETQ_TASK_TYPE, { q }), { queue: q });
  try {
    await until(() => seen.size >= queues.length, timeoutMs, `a task through each of ${queues.length} queues`, 10);
  } catch {
    // reported as the number of queues working
  }
  return { worker, ms: monoMs() - t0, working: seen.size };
}

/** nats-server's CPU over `ms` of idle time, % of one core (and this process's). */
async function idleCpu(ctx: BenchContext, ms: number): Promise<{ server: number; client: number }> {
  const sw = new Stopwatch(ctx.servers.serverPid("jetq")).start();
  await sleep(ms);
  const t = sw.stop();
  if (t.cpu.serverCpuMs === null) throw new SideUnavailable("nats-server's CPU time cannot be read (/proc)");
  return { server: (t.cpu.serverCpuMs / t.ms) * 100, client: (t.cpu.clientCpuMs / t.ms) * 100 };
}

async function run(ctx: BenchContext): Promise<SideRun> {
  const o = ctx.options;
  const url = ctx.servers.nats.url;
  const prefix = `scale_${randomUUID().slice(0, 6)}`;
  const names = Array.from({ length: o.scaleQueues }, (_, i) => `${prefix}_${String(i).padStart(4, "0")}`);
  const admin = await connectJetq(url, `${prefix}_admin`);
  let kept = [...names];
  try {
    const t0 = monoMs();
    for (const name of names) await admin.admin.prepareQueue({ name });
    const create = (monoMs() - t0) / names.length;
    ctx.log(`  scale: ${names.length} queues created, ${create.toFixed(1)} ms each`);

    const all = await taskThroughEach(url, admin, names, 300_000 + names.length * 100);
    await all.worker.stop();
    ctx.log(`  scale: a task through each: ${all.working} of ${names.length} queues in ${Math.round(all.ms)} ms`);

    for (const name of names.slice(o.idleQueues)) await admin.admin.deleteQueue(name);
    kept = names.slice(0, o.idleQueues);
    await sleep(settleMs(o));
    const base = await idleCpu(ctx, (o.idleSeconds * 1000) / 4);

    const idle = await taskThroughEach(url, admin, kept, 120_000 + kept.length * 100);
    try {
      if (idle.working < kept.length)
        throw new Error(`the idle worker ran tasks of ${idle.working} of its ${kept.length} queues`);
      await sleep(settleMs(o));
      const busy = await idleCpu(ctx, o.idleSeconds * 1000);
      return {
        values: { create, through: all.ms, working: all.working, idleBase: base.server, idle: busy.server },
        detail: {
          queues: names.length,
          idleQueues: kept.length,
          idleSeconds: o.idleSeconds,
          idleWorkerClientCpuPct: Math.round(busy.client * 100) / 100,
        },
      };
    } finally {
      await idle.worker.stop();
    }
  } finally {
    for (const name of kept) await admin.admin.deleteQueue(name).catch(() => undefined);
    await admin.admin.deleteQueue(`${prefix}_admin`).catch(() => undefined);
    await handlesOf(admin.storage)
      .jsm.streams.purge(TASKS_STREAM)
      .catch(() => undefined);
    await admin.close();
  }
}

/** The scale rows: a thousand queues, and what an idle worker on 300 of them costs nats-server. */
export function scaleScenario(o: Pick<BenchOptions, "scaleQueues" | "idleQueues">): Scenario {
  const n = o.scaleQueues.toLocaleString("en-US");
  const idle = o.idleQueues.toLocaleString("en-US");
  return {
    id: "scale",
    title: "scale of the layout",
    description:
      "jetq only, one round: scaleQueues queues created one after another (ms each), one worker on all of them and a task through each (ms, queues working); then the queues beyond idleQueues deleted and nats-server's CPU measured idle: without a worker, and with one worker bound to idleQueues queues (% of one core, over idleSeconds).",
    metrics: [
      { id: "create", title: `scale: create a queue (of ${n})`, unit: "ms", better: "lower" },
      { id: "through", title: `scale: a task through each of ${n}`, unit: "ms", better: "lower" },
      { id: "working", title: `scale: queues working (of ${n})`, unit: "queues", better: "higher" },
      { id: "idleBase", title: `scale: nats-server idle, ${idle} queues`, unit: "% core", better: "lower" },
      { id: "idle", title: `scale: nats-server, idle worker on ${idle}`, unit: "% core", better: "lower" },
    ],
    sides: ["jetq"],
    rounds: 1,
    run(side: SideId, ctx: BenchContext): Promise<SideRun> {
      if (side !== "jetq") throw new SideUnavailable("jetq only");
      return run(ctx);
    },
  };
}
