/**
 * HTTP gateway benchmark (standalone: `npx tsx bench/gateway.ts [--seconds 5] [--clients 16] [--tasks 20000]`).
 *
 * Starts a nats-server and the gateway in this process, then measures, next to the library's own
 * figures from the same run:
 * - enqueue: `POST /enqueue/<q>` requests/s from `clients` keep-alive HTTP clients, vs `clients`
 *   concurrent `Client.enqueue` loops (and `enqueueMany`);
 * - consume: `/wait` + `/ack` cycles/s from `clients` keep-alive HTTP clients, vs a library worker
 *   with `concurrency = clients` and a no-op handler;
 * - wake-up: time from an enqueue to the answer of a blocked `/wait`, vs to the start of a blocked
 *   library worker's handler (p50/p99).
 * The HTTP clients run in a child process, so they do not share the gateway's event loop.
 * Prints a table and writes bench/results/gateway.json.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { parseArgs } from "node:util";
import { Client, connectNats, newTask, Router, silentLogger } from "../src/index.js";
import { JetStreamStorage } from "../src/jobs/storage/jetstream-storage.js";
import { TaskEngine } from "../src/jobs/task-engine.js";
import { assertNatsServerAvailable, NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { HttpGateway } from "../src/server/index.js";
import { httpPost, load } from "./http-load.js";
import { machineInfo } from "./machine.js";
import { distribution, percentile, ratePerSecond, round3 } from "./stats.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 300_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await sleep(10);
  }
  return performance.now();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "5" },
      clients: { type: "string", default: "16" },
      tasks: { type: "string", default: "20000" },
      wakes: { type: "string", default: "200" },
    },
  });
  const seconds = Number(values.seconds);
  const clients = Number(values.clients);
  const tasks = Number(values.tasks);
  const wakes = Number(values.wakes);
  const natsVersion = assertNatsServerAvailable();

  const server = new NatsServerLauncher();
  await server.start();
  const nc = await connectNats({ servers: server.url, name: "bench-gateway" });
  const storage = await JetStreamStorage.open(nc, {}, silentLogger);
  await storage.prepare();
  const gw = new HttpGateway({
    engine: new TaskEngine({ storage, log: silentLogger, defaultQueue: "DEFAULT" }),
    log: silentLogger,
    port: 0,
  });
  await gw.start();
  const lib = async (queue: string, concurrency = clients) =>
    Client.connect({ servers: server.url, queue, logger: silentLogger, concurrency });
  const log = (msg: string) => process.stderr.write(`${msg}\n`);

  try {
    // ---- enqueue ----
    log(`library enqueue: ${clients} concurrent loops for ${seconds}s`);
    const c1 = await lib("bench_lib_enqueue");
    let libEnqueued = 0;
    const libEnqStart = performance.now();
    const libEnqEnd = libEnqStart + seconds * 1000;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < libEnqEnd) {
          await c1.enqueue(newTask("bench", { n: 1, text: "hello from the benchmark" }));
          libEnqueued++;
        }
      }),
    );
    const libEnqRate = ratePerSecond(libEnqueued, performance.now() - libEnqStart);

    log(`library enqueueMany: ${tasks} tasks`);
    const manyStart = performance.now();
    await c1.enqueueMany(Array.from({ length: tasks }, (_, i) => newTask("bench", { n: i })));
    const libManyRate = ratePerSecond(tasks, performance.now() - manyStart);
    await c1.close();

    log(`HTTP enqueue: ${clients} keep-alive clients for ${seconds}s`);
    await storage.prepareQueue({ name: "bench_http_enqueue" });
    const httpEnq = await load({
      url: gw.url,
      mode: "enqueue",
      queue: "bench_http_enqueue",
      clients,
      durationMs: seconds * 1000,
    });
    const httpEnqRate = ratePerSecond(httpEnq.done, httpEnq.elapsedMs);

    // ---- consume ----
    log(`library worker: ${tasks} tasks, concurrency ${clients}`);
    const c2 = await lib("bench_lib_process");
    await c2.enqueueMany(Array.from({ length: tasks }, (_, i) => newTask("bench", { n: i })));
    const ac = new AbortController();
    const procStart = performance.now();
    const running = c2.run(
      new Router().handle("bench", () => null),
      { signal: ac.signal },
    );
    const procEnd = await until(
      async () => (await c2.admin.queueInfo("bench_lib_process")).depth === 0,
      "library worker drained the queue",
    );
    const libProcRate = ratePerSecond(tasks, procEnd - procStart);
    ac.abort();
    await running;

    log(`HTTP wait+ack: ${tasks} tasks, ${clients} keep-alive clients`);
    await c2.enqueueMany(
      Array.from({ length: tasks }, (_, i) => newTask("bench", { n: i })),
      { queue: "bench_lib_process" },
    );
    await c2.close();
    const httpCycle = await load({
      url: gw.url,
      mode: "wait-ack",
      queue: "bench_lib_process",
      clients,
      durationMs: 0,
    });
    const httpCycleRate = ratePerSecond(httpCycle.done, httpCycle.elapsedMs);

    // ---- wake-up latency ----
    log(`wake-up latency: ${wakes} blocked waits each`);
    const c3 = await lib("bench_wake", 1);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const httpWake: number[] = [];
    for (let i = 0; i < wakes; i++) {
      const answer = httpPost(agent, `${gw.url}/wait/`, JSON.stringify({ timeout: 10_000, queues: ["bench_wake"] }));
      await sleep(15); // the wait's pull request is registered
      const t0 = performance.now();
      await c3.enqueue(newTask("wake", i));
      const r = await answer;
      httpWake.push(performance.now() - t0);
      const [t] = JSON.parse(r.body) as { id: string }[];
      if (t) await httpPost(agent, `${gw.url}/ack/`, JSON.stringify({ ids: [t.id] }));
    }
    agent.destroy();

    const libWake: number[] = [];
    let woke: (() => void) | undefined;
    const ac3 = new AbortController();
    const waking = c3.run(
      new Router().handle("wake", () => {
        woke?.();
        return null;
      }),
      { signal: ac3.signal },
    );
    await sleep(200);
    for (let i = 0; i < wakes; i++) {
      const handled = new Promise<void>((r) => {
        woke = r;
      });
      await sleep(15);
      const t0 = performance.now();
      await c3.enqueue(newTask("wake", i));
      await handled;
      libWake.push(performance.now() - t0);
    }
    ac3.abort();
    await waking;
    await c3.close();

    const rows: [string, string, string][] = [
      ["enqueue, req/s", fmt(httpEnqRate), `${fmt(libEnqRate)} (enqueueMany ${fmt(libManyRate)})`],
      ["consume (wait+ack vs worker), tasks/s", fmt(httpCycleRate), fmt(libProcRate)],
      ["wake-up p50, ms", ms(percentile(httpWake, 50)), ms(percentile(libWake, 50))],
      ["wake-up p99, ms", ms(percentile(httpWake, 99)), ms(percentile(libWake, 99))],
      [
        "HTTP enqueue latency p50/p99, ms",
        `${ms(percentile(httpEnq.latencies, 50))} / ${ms(percentile(httpEnq.latencies, 99))}`,
        "",
      ],
      [
        "HTTP wait+ack cycle p50/p99, ms",
        `${ms(percentile(httpCycle.latencies, 50))} / ${ms(percentile(httpCycle.latencies, 99))}`,
        "",
      ],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(12, ...rows.map((r) => r[1].length));
    process.stdout.write(
      `\njetq HTTP gateway vs library (${clients} clients, ${natsVersion})\n` +
        `${"".padEnd(w0)}  ${"HTTP gateway".padEnd(w1)}  library\n` +
        rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`).join("\n") +
        "\n",
    );
    if (httpEnq.errors + httpCycle.errors > 0)
      process.stdout.write(`errors: enqueue ${httpEnq.errors}, wait+ack ${httpCycle.errors}\n`);

    const result = {
      date: new Date().toISOString(),
      machine: machineInfo(natsVersion, "n/a"),
      options: { seconds, clients, tasks, wakes },
      http: {
        enqueuePerSecond: round3(httpEnqRate),
        enqueueLatencyMs: distribution(httpEnq.latencies),
        waitAckCyclesPerSecond: round3(httpCycleRate),
        waitAckCycleMs: distribution(httpCycle.latencies),
        wakeUpMs: distribution(httpWake),
        errors: httpEnq.errors + httpCycle.errors,
      },
      library: {
        enqueuePerSecond: round3(libEnqRate),
        enqueueManyPerSecond: round3(libManyRate),
        processPerSecond: round3(libProcRate),
        wakeUpMs: distribution(libWake),
      },
    };
    const dir = new URL("./results/", import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL("gateway.json", dir), `${JSON.stringify(result, null, 2)}\n`);
    log("wrote bench/results/gateway.json");
  } finally {
    await gw.stop();
    await nc.drain();
    await server.stop();
  }
}

const fmt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a");
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");

main().catch((err: unknown) => {
  process.stderr.write(`bench/gateway.ts failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
