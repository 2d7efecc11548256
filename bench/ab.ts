/**
 * Same-process A/B between two checkouts of jetq: rounds alternate between the checkouts (A B,
 * B A, A B, …) in one process on one nats-server, each checkout running its own code. On a shared
 * machine whose speed drifts by tens of percent within minutes, two separate bench runs cannot tell
 * a 10% change apart; alternating rounds in one process can. The first round of each is a warm-up
 * and not counted. Modes (`--mode`):
 * - `worker` (default): each round enqueues `--jobs` tasks with the checkout's `Client`, then its
 *   worker drains them (no-op handler, `--concurrency`): tasks/s, this process's CPU and write
 *   system calls per task;
 * - `enqueue`: `--jobs` awaited `enqueue` calls one after another: enqueues/s, CPU and write system
 *   calls per enqueue;
 * - `http`: the checkout's HTTP gateway in this process, `--clients` keep-alive clients of the
 *   bench's HTTP rows (a child process) `POST /enqueue/` for `--seconds`, then drain with `/wait/` +
 *   `/ack/`: requests and cycles per second, and the gateway process's CPU and write system calls
 *   (HTTP answers and NATS socket writes) per request and cycle.
 *
 *   git worktree add --detach ../jetq-before <commit> && ln -s "$PWD/node_modules" ../jetq-before/
 *   npx tsx bench/ab.ts --a ../jetq-before --b . [--mode worker|enqueue|http] [--rounds 7] …
 *
 * Each checkout is measured compiled by tsc (as `npm run bench` measures jetq), or with `--source`
 * through tsx. Prints each round, then per checkout the median of each figure.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { deferred, monoMs } from "./clock.js";
import { Stopwatch } from "./cpu.js";
import type * as HttpLoad from "./http-load.js";
import { useBuiltJetq } from "./jetq-build.js";
import { benchNatsServers } from "./nats-servers.js";
import type * as JetqSide from "./sides/jetq.js";
import { median, ratePerSecond } from "./stats.js";

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string", default: "." },
    mode: { type: "string", default: "worker" },
    concurrency: { type: "string", default: "100" },
    jobs: { type: "string", default: "20000" },
    clients: { type: "string", default: "16" },
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "7" },
    "nats-server": { type: "string" },
    source: { type: "boolean", default: false },
  },
});
const modes = ["worker", "enqueue", "http"] as const;
type Mode = (typeof modes)[number];
const mode = values.mode as Mode;
if (!values.a || !modes.includes(mode)) {
  console.error(
    "usage: npx tsx bench/ab.ts --a <checkout> [--b <checkout>] [--mode worker|enqueue|http] [--rounds n] [--source]\n" +
      "  worker: [--concurrency n] [--jobs n]; enqueue: [--jobs n]; http: [--clients n] [--seconds s]",
  );
  process.exit(2);
}
const rounds = Number(values.rounds);
const n = Number(values.jobs);

/** One checkout's modules, loaded from its own tree. */
interface Checkout {
  root: string;
  side: typeof JetqSide;
  load: typeof HttpLoad;
  /** Its figures of the counted rounds, by name. */
  figures: Map<string, number[]>;
}

/** One round of one checkout: its figures, by name. */
type Round = (co: Checkout, url: string) => Promise<Record<string, number>>;

const perUs = (cpuMs: number, count: number) => (cpuMs * 1000) / count;

/** Write system calls this process has made so far (sockets and files; `/proc/self/io`). */
const writeCalls = (): number => Number(/syscw: (\d+)/.exec(readFileSync("/proc/self/io", "utf8"))?.[1] ?? 0);

const worker: Round = async ({ side }, url) => {
  const c = Number(values.concurrency);
  const queue = side.uniqueQueue();
  const producer = await side.connectJetq(url, queue, c, Math.max(100, c));
  const workerClient = await side.connectJetq(url, queue, c, Math.max(100, c));
  await producer.enqueueMany(side.jetqTasks(n));
  let started = 0;
  const allStarted = deferred<void>();
  const writes = writeCalls();
  const sw = new Stopwatch(undefined).start();
  const running = side.startJetqWorker(workerClient, () => {
    if (++started === n) allStarted.resolve();
  });
  await allStarted.promise;
  await side.jetqDrained(producer, queue, 300_000);
  const { ms, cpu } = sw.stop();
  const taskWrites = writeCalls() - writes;
  await running.stop();
  await side.cleanupJetq(producer, queue);
  await producer.close();
  return { "tasks/s": ratePerSecond(n, ms), "µs/task": perUs(cpu.clientCpuMs, n), "writes/task": taskWrites / n };
};

const enqueue: Round = async ({ side }, url) => {
  const queue = side.uniqueQueue();
  const client = await side.connectJetq(url, queue);
  const tasks = side.jetqTasks(n);
  const writes = writeCalls();
  const sw = new Stopwatch(undefined).start();
  for (const t of tasks) await client.enqueue(t);
  const { ms, cpu } = sw.stop();
  const enqueueWrites = writeCalls() - writes;
  await side.cleanupJetq(client, queue);
  await client.close();
  return {
    "enqueues/s": ratePerSecond(n, ms),
    "µs/enqueue": perUs(cpu.clientCpuMs, n),
    "writes/enqueue": enqueueWrites / n,
  };
};

const http: Round = async ({ root, side, load }, url) => {
  // The checkout's own gateway, storage and engine, as the bench's HTTP rows start them.
  const { silentLogger } = await import(`${root}/src/index.ts`);
  const { JetStreamStorage } = await import(`${root}/src/jobs/storage/jetstream-storage.ts`);
  const { TaskEngine } = await import(`${root}/src/jobs/task-engine.ts`);
  const { connectNats } = await import(`${root}/src/nats/connect.ts`);
  const { HttpGateway } = await import(`${root}/src/server/index.ts`);
  const queue = `ab_${randomUUID().slice(0, 8)}`;
  const nc = await connectNats({ servers: url, name: "bench-ab-gateway" });
  const storage = await JetStreamStorage.open(nc, {}, silentLogger);
  await storage.prepare();
  const engine = new TaskEngine({ storage, log: silentLogger, defaultQueue: queue });
  const gw = new HttpGateway({ engine, log: silentLogger, port: 0 });
  await gw.start();
  const loads = new load.LoadProcess();
  try {
    const clients = Number(values.clients);
    const durationMs = Number(values.seconds) * 1000;
    let sw = new Stopwatch(undefined).start();
    let writes = writeCalls();
    const enq = await loads.run({ url: gw.url, mode: "enqueue", queue, clients, durationMs }, durationMs + 60_000);
    const enqCpu = sw.stop().cpu.clientCpuMs;
    const enqWrites = writeCalls() - writes;
    sw = new Stopwatch(undefined).start();
    writes = writeCalls();
    const job = { url: gw.url, mode: "wait-ack" as const, queue, clients, durationMs: 0, expect: enq.done };
    const cyc = await loads.run({ ...job, waitTimeoutMs: 5000 }, 300_000);
    const cycCpu = sw.stop().cpu.clientCpuMs;
    const cycWrites = writeCalls() - writes;
    if (enq.errors + cyc.errors > 0) throw new Error(`${enq.errors + cyc.errors} HTTP errors`);
    return {
      "enqueue req/s": ratePerSecond(enq.done, enq.elapsedMs),
      "µs/request": perUs(enqCpu, enq.done),
      "writes/request": enqWrites / enq.done,
      "wait+ack cycles/s": ratePerSecond(cyc.done, cyc.elapsedMs),
      "µs/cycle": perUs(cycCpu, cyc.done),
      "writes/cycle": cycWrites / cyc.done,
    };
  } finally {
    await loads.stop();
    await gw.stop();
    await engine.stop();
    await nc.drain();
    const c = await side.connectJetq(url, queue);
    await side.cleanupJetq(c, queue);
    await c.close();
  }
};

const round: Record<Mode, Round> = { worker, enqueue, http };

// Each checkout's sources compiled by tsc, as the bench measures jetq (bench/jetq-build.ts), unless
// --source: tsx then runs them, with esbuild's keepNames cost on every closure made.
const roots = [values.a, values.b].map((dir) => resolve(dir));
if (!values.source) for (const root of new Set(roots)) useBuiltJetq(root);
const checkouts: Checkout[] = await Promise.all(
  roots.map(async (root) => {
    const side: typeof JetqSide = await import(`${root}/bench/sides/jetq.ts`);
    const load: typeof HttpLoad = await import(`${root}/bench/http-load.ts`);
    return { root, side, load, figures: new Map<string, number[]>() };
  }),
);
const [binary] = benchNatsServers({ natsServers: values["nats-server"] ? [values["nats-server"]] : [], both: false });
const server = await new NatsServerLauncher({ binary: binary?.path }).start();
console.log(`nats-server ${server.version}; mode ${mode}, ${rounds} rounds (the first of each checkout not counted)`);
const show = (f: Record<string, number>) =>
  Object.entries(f)
    .map(([k, v]) => `${v.toFixed(v < 10 ? 2 : v < 1000 ? 1 : 0)} ${k}`)
    .join(", ");
try {
  for (let r = 0; r < rounds; r++) {
    for (const co of r % 2 === 0 ? checkouts : [...checkouts].reverse()) {
      const t0 = monoMs();
      const f = await round[mode](co, server.url);
      if (r > 0) for (const [k, v] of Object.entries(f)) co.figures.set(k, [...(co.figures.get(k) ?? []), v]);
      console.log(`round ${r} ${co.root}: ${show(f)} (${Math.round(monoMs() - t0)} ms)`);
    }
  }
} finally {
  await server.stop();
}
for (const { root, figures } of checkouts) {
  console.log(`${root}: median ${show(Object.fromEntries([...figures].map(([k, v]) => [k, median(v)])))}`);
}
