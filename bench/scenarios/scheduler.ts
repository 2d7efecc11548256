/**
 * The scheduler face: jetq serve's Gozo-compatible scheduler against the real Gozo, on the benchmark's
 * nats-server, with the same producer. Two measurements per run:
 * - accepted: N schedules (each with a `Gozo-Id`, due in an hour) published as fast as the connection
 *   takes them; schedules/s until the scheduler has stored all N (the JetStream stream that grew by N:
 *   jetq's schedules stream, Gozo's key/value bucket; less the few probes sent first to see that the
 *   scheduler fires, as their removal after firing may fall into the count);
 * - lateness at R fires/s for S seconds, with those N still pending: R schedules due at each whole
 *   second (Gozo reads `Gozo-When` as whole epoch seconds only, so both sides get whole seconds);
 *   lateness = arrival of the fired message − its due second.
 * Each run starts its own scheduler process and removes what it stored afterwards.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { SCHEDULES_STREAM } from "../../src/jobs/storage/schedule-codec.js";
import { sleep, until } from "../clock.js";
import { PeerProcess } from "../peers/peer-process.js";
import { findPeer } from "../peers/tools.js";
import { percentile, ratePerSecond } from "../stats.js";
import { type BenchContext, type Scenario, type SideId, type SideRun, SideUnavailable } from "../types.js";
import { startScheduler } from "./delayed.js";

const GOZO_SUBJECT = "gozo";

/** How long acceptance may store nothing more before the run fails (schedules were lost). */
const STALL_MS = 15_000;

/** Messages per stream now. */
async function streamCounts(jsm: JetStreamManager): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const s of jsm.streams.list()) counts.set(s.config.name, s.state.messages);
  return counts;
}

/** Publishes one Gozo schedule. */
function schedule(nc: NatsConnection, whenSec: number, id: string, reply: string, data: string): void {
  const h = headers();
  h.set("Gozo-When", String(whenSec));
  h.set("Gozo-Id", id);
  nc.publish(GOZO_SUBJECT, data, { reply, headers: h });
}

/**
 * Resolves once a probe schedule due now comes back (the scheduler listens and fires), with how many
 * probes were sent: each is removed from the store after it fires, perhaps only while the
 * acceptance below is being counted.
 */
async function probe(nc: NatsConnection, timeoutMs: number): Promise<number> {
  const inbox = `bench.probe.${randomUUID().slice(0, 8)}`;
  const sub = nc.subscribe(inbox, { max: 1 });
  const end = Date.now() + timeoutMs;
  try {
    for (let i = 0; ; i++) {
      schedule(nc, Math.floor(Date.now() / 1000), `probe-${inbox}-${i}`, inbox, "probe");
      const got = await Promise.race([sub[Symbol.asyncIterator]().next(), sleep(1500).then(() => undefined)]);
      if (got && !got.done) return i + 1;
      if (Date.now() > end) throw new Error(`no probe came back within ${timeoutMs} ms`);
    }
  } finally {
    sub.unsubscribe();
  }
}

/** A scheduler under test: jetq serve or Gozo, with what it stored removed on stop. */
interface SchedulerUnderTest {
  stop(): Promise<void>;
}

async function startJetq(ctx: BenchContext, jsm: JetStreamManager): Promise<SchedulerUnderTest> {
  const serve = await startScheduler(ctx.servers.nats.url);
  return {
    async stop() {
      await serve.stop();
      await jsm.streams.delete(SCHEDULES_STREAM).catch(() => undefined);
    },
  };
}

async function startGozo(ctx: BenchContext, jsm: JetStreamManager): Promise<SchedulerUnderTest> {
  const bin = findPeer("gozo");
  if (!("path" in bin)) throw new SideUnavailable(bin.reason);
  const before = new Set((await streamCounts(jsm)).keys());
  // A scratch working directory: Gozo reads ./gozo.env when there is one.
  const cwd = await mkdtemp(join(tmpdir(), "jetq-gozo-"));
  const peer = new PeerProcess("gozo", bin.path, ["-a", ctx.servers.nats.url], {
    cwd,
    env: { NATS_ADDRESS: ctx.servers.nats.url },
  });
  return {
    async stop() {
      await peer.stop();
      for (const name of (await streamCounts(jsm)).keys()) {
        if (!before.has(name)) await jsm.streams.delete(name).catch(() => undefined);
      }
      await rm(cwd, { recursive: true, force: true });
    },
  };
}

async function measure(ctx: BenchContext, nc: NatsConnection, jsm: JetStreamManager): Promise<SideRun> {
  const o = ctx.options;
  const run = randomUUID().slice(0, 8);
  const probes = await probe(nc, 60_000);

  // accepted/s
  const before = await streamCounts(jsm);
  const t0 = performance.now();
  const farAhead = Math.floor(Date.now() / 1000) + 3600;
  for (let i = 0; i < o.schedulerAccept; i++) {
    schedule(nc, farAhead, `acc-${run}-${i}`, "bench.never", "x");
    if (i % 5_000 === 4_999) await nc.flush();
  }
  await nc.flush();
  // Until one stream has grown by N (less the probes, whose removal may fall into this window); a
  // scheduler that stores nothing more for STALL_MS has lost some.
  const want = o.schedulerAccept - probes;
  let grown = 0;
  let lastGrowth = Date.now();
  await until(
    async () => {
      let most = 0;
      for (const [name, n] of await streamCounts(jsm)) most = Math.max(most, n - (before.get(name) ?? 0));
      if (most > grown) [grown, lastGrowth] = [most, Date.now()];
      if (grown < want && Date.now() - lastGrowth > STALL_MS)
        throw new Error(`${grown} of ${o.schedulerAccept} schedules stored, none more for ${STALL_MS / 1000} s`);
      return grown >= want;
    },
    300_000,
    `${o.schedulerAccept} schedules stored`,
    20,
  );
  const accepted = ratePerSecond(o.schedulerAccept, performance.now() - t0);

  // lateness at R fires/s: R due at each whole second, far enough ahead to publish them all first
  const n = o.schedulerRate * o.schedulerSeconds;
  const first = Math.ceil(Date.now() / 1000) + 2 + Math.ceil(n / 20_000);
  const inbox = `bench.late.${run}`;
  const late: number[] = [];
  const seen = new Set<string>();
  const sub = nc.subscribe(inbox, {
    callback: (_err, m) => {
      const id = m.headers?.get("Gozo-Id") ?? "";
      const due = Number(id.slice(id.lastIndexOf("-") + 1));
      if (!Number.isFinite(due) || seen.has(id)) return;
      seen.add(id);
      late.push(Date.now() - due * 1000);
    },
  });
  await nc.flush();
  for (let i = 0; i < n; i++) {
    const due = first + Math.floor(i / o.schedulerRate);
    schedule(nc, due, `late-${run}-${i}-${due}`, inbox, "x");
    if (i % 5_000 === 4_999) await nc.flush();
  }
  await nc.flush();
  const lastDue = (first + o.schedulerSeconds - 1) * 1000;
  await until(() => late.length >= n || Date.now() > lastDue + 5_000, lastDue - Date.now() + 60_000, "fires", 20);
  sub.unsubscribe();
  if (late.length === 0) throw new Error(`none of ${n} schedules fired within 5 s of their due time`);
  return {
    values: {
      accepted,
      p50: percentile(late, 50),
      p99: percentile(late, 99),
      max: percentile(late, 100),
    },
    samples: late,
    detail: { fired: late.length, missing: n - late.length },
  };
}

/** The scheduler rows: acceptance rate and lateness at 1,000 fires/s, jetq vs Gozo. */
export const schedulerScenario: Scenario = {
  id: "scheduler",
  title: "scheduler (Gozo protocol)",
  description:
    "jetq serve vs Gozo on the same nats-server: N schedules with Gozo-Id accepted (stored) per second, then lateness of R fires/s (whole-second Gozo-When, as Gozo reads it) with those N pending.",
  metrics: [
    { id: "accepted", title: "schedules accepted", unit: "schedules/s", better: "higher" },
    { id: "p50", title: "lateness @1,000/s p50", unit: "ms", better: "lower" },
    { id: "p99", title: "lateness @1,000/s p99", unit: "ms", better: "lower" },
    { id: "max", title: "lateness @1,000/s max", unit: "ms", better: "lower" },
  ],
  sides: ["jetq", "gozo"] satisfies SideId[],
  async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
    const nc = await connect({ servers: ctx.servers.nats.url, name: "bench-scheduler" });
    const jsm = await jetstreamManager(nc);
    try {
      const s = side === "jetq" ? await startJetq(ctx, jsm) : await startGozo(ctx, jsm);
      try {
        return await measure(ctx, nc, jsm);
      } finally {
        await s.stop();
      }
    } finally {
      await nc.close();
    }
  },
};
