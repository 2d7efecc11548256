/**
 * The HTTP face, with the same HTTP client for every side (bench/http-load.ts, a child process of
 * keep-alive loops, so the clients do not share the server's event loop):
 * - `http-c<N>`, emq's routes: for `httpSeconds` the N clients `POST /enqueue/<q>` as fast as answers
 *   come, then they drain what they enqueued with `/wait/` + `/ack/` cycles until every task is
 *   acknowledged; with one client, then `wakes` wake-ups (a blocked `/wait/` answered by an enqueue).
 *   Sides: jetq's gateway (in this process, on the benchmark's nats-server, a fresh queue created by
 *   the first enqueue as a user's would be), the real emq (one client only, see below) and the jetq
 *   library doing the same in the same run (N concurrent awaited `enqueue` loops; a worker of
 *   concurrency N with a no-op handler; a blocked worker woken by an enqueue, to handler start).
 * - `rest-c<N>`, jetq's REST route: N clients `POST /v1/queues/<q>/tasks` for `httpSeconds`, against
 *   the library's N enqueue loops.
 *
 * emq deadlocks under concurrent blocking waits: a `/wait/` whose timeout fires while another
 * request's wake-up is handing it tasks blocks on the lock that wake-up holds, and every later request
 * hangs (seen with 32 clients, and with 4 clients even with 5 s waits). So emq runs in the one-client
 * rows only, where the target compares it; a run that stops answering is killed and fails.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, newTask, silentLogger } from "../../src/index.js";
import { JetStreamStorage } from "../../src/jobs/storage/jetstream-storage.js";
import { TaskEngine } from "../../src/jobs/task-engine.js";
import { connectNats } from "../../src/nats/connect.js";
import { freePort } from "../../src/nats/nats-server-launcher.js";
import { HttpGateway } from "../../src/server/index.js";
import { deferred, monoMs, sleep, until } from "../clock.js";
import { type LoadMode, LoadProcess, type LoadResult } from "../http-load.js";
import { PeerProcess, waitForHttp } from "../peers/peer-process.js";
import { findPeer } from "../peers/tools.js";
import { cleanupJetq, connectJetq, JETQ_TASK_TYPE, jetqDrained, startJetqWorker } from "../sides/jetq.js";
import { percentile, ratePerSecond } from "../stats.js";
import { type BenchContext, type Scenario, type SideId, type SideRun, SideUnavailable } from "../types.js";

/** How long a blocking `/wait/` of the drain phase waits, ms. */
const WAIT_MS = 5000;

/** A running HTTP server under test and how to stop it. */
interface HttpTarget {
  url: string;
  stop(): Promise<void>;
}

/**
 * jetq's gateway in this process, on its own connection and storage, cleaned up on stop. With
 * `createQueue`, `queue` is created first (REST enqueues only to existing queues).
 */
async function startJetqGateway(ctx: BenchContext, queue: string, createQueue = false): Promise<HttpTarget> {
  const nc = await connectNats({ servers: ctx.servers.nats.url, name: "bench-gateway" });
  const storage = await JetStreamStorage.open(nc, {}, silentLogger);
  await storage.prepare();
  if (createQueue) await storage.prepareQueue({ name: queue });
  const engine = new TaskEngine({ storage, log: silentLogger, defaultQueue: queue });
  const gw = new HttpGateway({ engine, log: silentLogger, port: 0 });
  await gw.start();
  return {
    url: gw.url,
    async stop() {
      await gw.stop();
      await engine.stop();
      await nc.drain();
      const c = await connectJetq(ctx.servers.nats.url, queue);
      await cleanupJetq(c, queue);
      await c.close();
    },
  };
}

/** Starts the real emq on a free loopback port, in a scratch directory. @throws SideUnavailable when not built */
async function startEmq(): Promise<HttpTarget> {
  const bin = findPeer("emq");
  if (!("path" in bin)) throw new SideUnavailable(bin.reason);
  const port = await freePort();
  const cwd = await mkdtemp(join(tmpdir(), "jetq-emq-"));
  const peer = new PeerProcess("emq", bin.path, ["-addr", `127.0.0.1:${port}`], { cwd });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/queues/`, 15_000, peer);
  } catch (err) {
    await peer.stop();
    throw err;
  }
  return {
    url,
    async stop() {
      await peer.stop();
      await rm(cwd, { recursive: true, force: true });
    },
  };
}

const serverFor = (side: SideId, ctx: BenchContext, queue: string) =>
  side === "jetq" ? startJetqGateway(ctx, queue) : startEmq();

/** Runs one load and fails on any HTTP error (a status other than the route's success). */
async function loadOrFail(
  loads: LoadProcess,
  target: HttpTarget,
  mode: LoadMode,
  queue: string,
  clients: number,
  durationMs: number,
  extra: { expect?: number; waitTimeoutMs?: number } = {},
): Promise<LoadResult> {
  const r = await loads.run({ url: target.url, mode, queue, clients, durationMs, ...extra }, durationMs + 300_000);
  if (r.errors > 0) throw new Error(`${mode}: ${r.errors} HTTP errors`);
  return r;
}

/** The library's enqueue reference: `clients` concurrent awaited `enqueue` loops for `durationMs`; jobs/s. */
async function enqueueLoops(c: Client, clients: number, durationMs: number): Promise<{ done: number; rate: number }> {
  let done = 0;
  const t0 = monoMs();
  const end = t0 + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (monoMs() < end) {
        await c.enqueue(newTask(JETQ_TASK_TYPE, { n: 1, text: "hello from the benchmark" }));
        done++;
      }
    }),
  );
  return { done, rate: ratePerSecond(done, monoMs() - t0) };
}

/** One emq-routes run on jetq's gateway or emq. */
async function runHttpSide(side: SideId, clients: number, ctx: BenchContext): Promise<SideRun> {
  const queue = `bench_${randomUUID().slice(0, 8)}`;
  const target = await serverFor(side, ctx, queue);
  const loads = new LoadProcess();
  try {
    const durationMs = ctx.options.httpSeconds * 1000;
    const enq = await loadOrFail(loads, target, "enqueue", queue, clients, durationMs);
    const cyc = await loadOrFail(loads, target, "wait-ack", queue, clients, 0, {
      expect: enq.done,
      waitTimeoutMs: WAIT_MS,
    });
    if (cyc.done < enq.done) throw new Error(`${enq.done} enqueued, ${cyc.done} handed out and acknowledged`);
    const values: Record<string, number> = {
      enqueue: ratePerSecond(enq.done, enq.elapsedMs),
      waitack: ratePerSecond(cyc.done, cyc.elapsedMs),
    };
    if (clients === 1) {
      const wake = await loadOrFail(loads, target, "wake", queue, 1, 0, { expect: ctx.options.wakes });
      values.wake50 = percentile(wake.latencies, 50);
      values.wake99 = percentile(wake.latencies, 99);
    }
    return { values, detail: { enqueued: enq.done, cycles: cyc.done } };
  } finally {
    await loads.stop();
    await target.stop();
  }
}

/** The library doing what the HTTP clients do, in the same run. */
async function runLibrarySide(clients: number, ctx: BenchContext): Promise<SideRun> {
  const url = ctx.servers.nats.url;
  const queue = `bench_${randomUUID().slice(0, 8)}`;
  const producer = await connectJetq(url, queue, clients);
  try {
    const { done: enqueued, rate } = await enqueueLoops(producer, clients, ctx.options.httpSeconds * 1000);
    const values: Record<string, number> = { enqueue: rate };

    let handled = 0;
    let woke: (() => void) | undefined;
    const t1 = monoMs();
    const worker = startJetqWorker(await connectJetq(url, queue, clients), () => {
      handled++;
      woke?.();
    });
    try {
      await until(() => handled >= enqueued, 300_000, "library worker handled every task", 2);
      await jetqDrained(producer, queue, 300_000);
      values.waitack = ratePerSecond(enqueued, monoMs() - t1);
      if (clients === 1) {
        const wakes: number[] = [];
        for (let i = 0; i < ctx.options.wakes; i++) {
          const started = deferred<void>();
          woke = () => started.resolve();
          await sleep(15); // the same pacing as the HTTP side's: the worker is idle and waiting
          const t = monoMs();
          await producer.enqueue(newTask(JETQ_TASK_TYPE, { wake: i }));
          await started.promise;
          wakes.push(monoMs() - t);
        }
        values.wake50 = percentile(wakes, 50);
        values.wake99 = percentile(wakes, 99);
      }
    } finally {
      woke = undefined;
      await worker.stop();
    }
    return { values, detail: { enqueued } };
  } finally {
    await cleanupJetq(producer, queue);
    await producer.close();
  }
}

/** The emq-routes rows at `clients` keep-alive clients: jetq's gateway vs the library (and emq at 1 client). */
export function httpScenario(clients: number): Scenario {
  const one = clients === 1;
  return {
    id: `http-c${clients}`,
    title: `HTTP emq routes, ${clients} client${one ? "" : "s"}`,
    description: `emq routes, ${clients} keep-alive client(s) in a child process: POST /enqueue/ for a fixed time, then /wait/ (blocking, ${WAIT_MS} ms) + /ack/ cycles until every enqueued task is acknowledged${one ? ", then wake-ups (enqueue → answer of a blocked /wait/)" : ""}; jetq's gateway${one ? " vs the real emq and" : ""} vs the library doing the same in the same run (${clients} enqueue loop(s), a worker of concurrency ${clients}${one ? ", enqueue → handler start" : ""}).`,
    metrics: [
      { id: "enqueue", title: `HTTP enqueue c=${clients}`, unit: "req/s", better: "higher" },
      { id: "waitack", title: `HTTP wait+ack c=${clients}`, unit: "cycles/s", better: "higher" },
      ...(one
        ? [
            { id: "wake50", title: "HTTP wake-up p50", unit: "ms", better: "lower" as const },
            { id: "wake99", title: "HTTP wake-up p99", unit: "ms", better: "lower" as const },
          ]
        : []),
    ],
    sides: one ? ["jetq", "emq", "library"] : ["jetq", "library"],
    run(side: SideId, ctx: BenchContext): Promise<SideRun> {
      return side === "library" ? runLibrarySide(clients, ctx) : runHttpSide(side, clients, ctx);
    },
  };
}

/** The REST enqueue row at `clients` keep-alive clients: `POST /v1/queues/{q}/tasks` vs the library. */
export function restScenario(clients: number): Scenario {
  return {
    id: `rest-c${clients}`,
    title: `HTTP REST, ${clients} client${clients === 1 ? "" : "s"}`,
    description: `REST, ${clients} keep-alive client(s) in a child process: POST /v1/queues/{q}/tasks (an existing queue) for a fixed time; jetq's gateway vs ${clients} library enqueue loop(s) in the same run.`,
    metrics: [{ id: "enqueue", title: `REST enqueue c=${clients}`, unit: "req/s", better: "higher" }],
    sides: ["jetq", "library"],
    async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
      const queue = `bench_${randomUUID().slice(0, 8)}`;
      const durationMs = ctx.options.httpSeconds * 1000;
      if (side === "library") {
        const c = await connectJetq(ctx.servers.nats.url, queue);
        try {
          const { done, rate } = await enqueueLoops(c, clients, durationMs);
          return { values: { enqueue: rate }, detail: { enqueued: done } };
        } finally {
          await cleanupJetq(c, queue);
          await c.close();
        }
      }
      const target = await startJetqGateway(ctx, queue, true);
      const loads = new LoadProcess();
      try {
        const r = await loadOrFail(loads, target, "rest-enqueue", queue, clients, durationMs);
        return { values: { enqueue: ratePerSecond(r.done, r.elapsedMs) }, detail: { enqueued: r.done } };
      } finally {
        await loads.stop();
        await target.stop();
      }
    },
  };
}
