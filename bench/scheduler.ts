// Scheduler scale benchmark (issue: 1,000,000 pending schedules in one instance).
// Measures: schedules/s accepted over the Gozo protocol, memory per pending schedule, restart-to-ready
// time with everything pending, and fire lateness p50/p99 at 1,000 and 10,000 fires/s.
// Usage: npx tsx bench/scheduler.ts [--pending 1000000] [--out bench/results/scheduler.json]
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { SCHEDULES_STREAM } from "../src/jobs/storage/schedule-codec.js";
import { silentLogger } from "../src/logger.js";
import { connectNats } from "../src/nats/connect.js";
import { NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { SchedulerService } from "../src/scheduler/scheduler-service.js";
import { storageOn } from "../test/support/storage.js";
import { percentile } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    pending: { type: "string", default: "1000000" },
    out: { type: "string", default: "bench/results/scheduler.json" },
  },
});
const PENDING = Number(args.pending);

async function waitStored(nc: NatsConnection, n: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const { messages } = (await jsm.streams.info(SCHEDULES_STREAM)).state;
    if (messages >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function heapMb(): number {
  global.gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

/** Publishes `count` Gozo messages as fast as the connection takes them (flushing every 10k). */
async function publishGozo(
  nc: NatsConnection,
  count: number,
  due: (i: number) => number,
  reply: string,
  idPrefix: string,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const h = headers();
    h.set("Gozo-When", (due(i) / 1000).toFixed(3));
    h.set("Gozo-Id", `${idPrefix}${i}`);
    nc.publish("gozo", "x", { headers: h, reply });
    if (i % 10_000 === 9_999) await nc.flush();
  }
  await nc.flush();
}

/**
 * Fires `rate`/s for `seconds`; returns lateness samples (ms). The first fire is far enough ahead
 * that every schedule is stored before it, so acceptance speed does not count as lateness.
 */
async function lateness(rate: number, seconds: number): Promise<number[]> {
  const n = rate * seconds;
  const start = Date.now() + 2000 + n / 2;
  const dues = new Map<string, number>();
  const samples: number[] = [];
  const reply = `bench.late.${rate}`;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const sub = producer.subscribe(reply, {
    callback: (_e, m) => {
      const due = dues.get(m.headers?.get("Gozo-Id") ?? "");
      if (due !== undefined) samples.push(Date.now() - due);
      if (samples.length >= n) resolve();
    },
  });
  const due = (i: number) => start + Math.floor((i * 1000) / rate);
  for (let i = 0; i < n; i++) dues.set(`late${rate}-${i}`, due(i));
  await publishGozo(producer, n, due, reply, `late${rate}-`);
  // Wait until the last due time plus a grace period, or until every fire arrived.
  await Promise.race([done, new Promise((r) => setTimeout(r, start + seconds * 1000 + 5000 - Date.now()))]);
  sub.unsubscribe();
  return samples;
}

const server = await new NatsServerLauncher().start();
// The scheduler and the producers use separate connections, as separate processes would.
const nc = await connectNats({ servers: server.url });
const producer = await connectNats({ servers: server.url });
const results: Record<string, unknown> = { pending: PENDING };
try {
  let service = new SchedulerService({ storage: await storageOn(nc), log: silentLogger, electionTtlMs: 1000 });
  await service.start();

  const t0 = performance.now();
  await publishGozo(producer, PENDING, () => Date.now() + 3_600_000, "bench.never", "p");
  await waitStored(nc, PENDING);
  const acceptSecs = (performance.now() - t0) / 1000;
  results.acceptedPerSec = Math.round(PENDING / acceptSecs);

  await service.stop();
  heapMb();
  const heapStopped = heapMb();
  service = new SchedulerService({ storage: await storageOn(nc), log: silentLogger, electionTtlMs: 1000 });
  const r0 = performance.now();
  await service.start();
  while (!service.stats()?.ready) await new Promise((r) => setTimeout(r, 10));
  results.restartToReadyMs = Math.round(performance.now() - r0);
  results.pendingAfterRestart = service.stats()?.pending;
  // Heap growth from an empty scheduler to one holding every pending schedule.
  results.bytesPerPending = Math.round(((heapMb() - heapStopped) * 1024 * 1024) / PENDING);

  for (const rate of [1000, 10_000]) {
    const s = await lateness(rate, 3);
    results[`lateness${rate}`] = {
      fires: s.length,
      expected: rate * 3,
      p50: percentile(s, 50),
      p99: percentile(s, 99),
      max: percentile(s, 100),
    };
  }
  await service.stop();
} finally {
  await producer.close();
  await nc.close();
  await server.stop();
}
console.table(results);
await writeFile(args.out, `${JSON.stringify({ ...results, at: new Date().toISOString() }, null, 2)}\n`);
