/**
 * The ceiling of the HTTP rows on this machine: the bench's own HTTP client (`http-load.ts`, a child
 * process of keep-alive loops) against servers in this process that do no work at all — Node's bare
 * `node:http` answering a fixed body, and a hono app on `@hono/node-server` (what jetq's gateway is
 * built on) that reads the JSON body and answers. Same routes, bodies and client as the `http-c*`
 * rows, so `jetq's gateway ÷ ceiling` says how much of an HTTP request's cost is jetq's.
 *
 *   npx tsx bench/http-ceiling.ts [--clients 1,16] [--seconds 5] [--cycles 20000]
 *
 * Prints a table and writes `bench/results/http-ceiling.json`.
 */
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { LoadProcess } from "./http-load.js";
import { loadAverage, machineInfo } from "./machine.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1,16" },
    seconds: { type: "string", default: "5" },
    cycles: { type: "string", default: "20000" },
  },
});
const clientCounts = values.clients.split(",").map(Number);
const durationMs = Number(values.seconds) * 1000;
const cycles = Number(values.cycles);
const loadAtStart = loadAverage();

/** What a `/wait/` of the emq routes answers: one task, as jetq's gateway would. */
const TASK = JSON.stringify([
  { id: "01JETQCEILING0000000000000", content: { n: 1, text: "hello from the benchmark" } },
]);
const OK = JSON.stringify({ ok: true });

/** Node's HTTP server answering without reading the body's meaning (it is still read to the end). */
function bareListener(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on("end", () => {
    const body = req.url?.startsWith("/wait") ? TASK : OK;
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
}

/** A hono app with the same routes, parsing each JSON body as the gateway does. */
function honoListener() {
  const app = new Hono();
  app.post("/enqueue/:queue", async (c) => {
    await c.req.json();
    return c.json({ ok: true });
  });
  app.post("/wait/", async (c) => {
    await c.req.json();
    return c.body(TASK, 200, { "content-type": "application/json" });
  });
  app.post("/ack/", async (c) => {
    await c.req.json();
    return c.json({ ok: true });
  });
  return getRequestListener(app.fetch);
}

async function listen(listener: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer({ keepAliveTimeout: 60_000 }, listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Row {
  server: string;
  clients: number;
  enqueuePerSecond: number;
  waitAckCyclesPerSecond: number;
  /** CPU time of this (the server's) process per request, µs: enqueue, and per wait+ack cycle. */
  serverCpuUsPerEnqueue: number;
  serverCpuUsPerCycle: number;
}

/** CPU time (user + system, µs) this process spends while `run` runs. */
async function withCpu<T>(run: () => Promise<T>): Promise<{ result: T; cpuUs: number }> {
  const before = process.cpuUsage();
  const result = await run();
  const used = process.cpuUsage(before);
  return { result, cpuUs: used.user + used.system };
}

const load = new LoadProcess();
const rows: Row[] = [];
try {
  for (const [name, listener] of [
    ["node:http", bareListener],
    ["hono", honoListener()],
  ] as const) {
    const { server, url } = await listen(listener);
    for (const clients of clientCounts) {
      const { result: enq, cpuUs: enqCpu } = await withCpu(() =>
        load.run({ url, mode: "enqueue", queue: "ceiling", clients, durationMs }, durationMs + 30_000),
      );
      const { result: wa, cpuUs: waCpu } = await withCpu(() =>
        load.run({ url, mode: "wait-ack", queue: "ceiling", clients, durationMs: 0, expect: cycles }, 120_000),
      );
      const row: Row = {
        server: name,
        clients,
        enqueuePerSecond: Math.round((enq.done / enq.elapsedMs) * 1000),
        waitAckCyclesPerSecond: Math.round((wa.done / wa.elapsedMs) * 1000),
        serverCpuUsPerEnqueue: Math.round(enqCpu / Math.max(1, enq.done)),
        serverCpuUsPerCycle: Math.round(waCpu / Math.max(1, wa.done)),
      };
      rows.push(row);
      console.log(
        `${name.padEnd(10)} c=${String(clients).padEnd(3)} enqueue ${row.enqueuePerSecond.toLocaleString("en")} req/s, ` +
          `wait+ack ${row.waitAckCyclesPerSecond.toLocaleString("en")} cycles/s; server CPU ` +
          `${row.serverCpuUsPerEnqueue} µs/enqueue, ${row.serverCpuUsPerCycle} µs/cycle` +
          (enq.errors + wa.errors > 0 ? ` (${enq.errors + wa.errors} errors)` : ""),
      );
    }
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
} finally {
  await load.stop();
}
const file = new URL("./results/http-ceiling.json", import.meta.url);
writeFileSync(
  file,
  `${JSON.stringify({ date: new Date().toISOString(), machine: machineInfo("none", "none", loadAtStart), rows }, null, 2)}\n`,
);
console.log(`wrote ${file.pathname}`);
