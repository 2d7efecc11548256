/**
 * The HTTP face: jetq's gateway against the real emq, with the same client (bench/http-load.ts, a child
 * process of keep-alive loops) in the same run. For `duration` the clients `POST /enqueue/<q>` as fast as
 * answers come, then they drain what they enqueued with `POST /wait/` + `POST /ack/` cycles until every
 * enqueued task is acknowledged. jetq's gateway runs in this process on the benchmark's
 * nats-server (queues created on first use, as a user's would be); emq runs as its own process, fresh
 * for every run. emq deadlocks under concurrent waits: a `/wait/` whose timeout fires while another
 * request's wake-up is handing it tasks blocks on the lock that wake-up holds (unbuffered channel send
 * under the server lock), and every later request hangs. Seen with 32 clients, and here with 4 clients
 * even with 5 s waits. So the rows use 1 client with blocking 5 s waits, and 4 clients polling with
 * timeout 0 (emq's path that takes what is there without the waiter list). A run that stops answering
 * is killed and fails.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, silentLogger } from "../../src/index.js";
import { JetStreamStorage } from "../../src/jobs/storage/jetstream-storage.js";
import { TaskEngine } from "../../src/jobs/task-engine.js";
import { freePort } from "../../src/nats/nats-server-launcher.js";
import { HttpGateway } from "../../src/server/index.js";
import { load } from "../http-load.js";
import { PeerProcess, waitForHttp } from "../peers/peer-process.js";
import { findPeer } from "../peers/tools.js";
import { cleanupJetq, connectJetq } from "../sides/jetq.js";
import { ratePerSecond } from "../stats.js";
import { type BenchContext, type Scenario, type SideId, type SideRun, SideUnavailable } from "../types.js";

/** A running emq-style HTTP server and how to stop it. */
interface HttpTarget {
  url: string;
  stop(): Promise<void>;
}

async function startJetqGateway(ctx: BenchContext, queue: string): Promise<HttpTarget> {
  const nc = await connectNats({ servers: ctx.servers.nats.url, name: "bench-gateway" });
  const storage = await JetStreamStorage.open(nc, {}, silentLogger);
  await storage.prepare();
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
export async function startEmq(): Promise<HttpTarget & { peer: PeerProcess }> {
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
    peer,
    async stop() {
      await peer.stop();
      await rm(cwd, { recursive: true, force: true });
    },
  };
}

/** The gateway rows at `clients` concurrent HTTP clients. */
export function gatewayScenario(clients: number): Scenario {
  // One client blocks in its waits (emq's intended use); several poll with timeout 0, emq's lock-free
  // path, because its blocking path deadlocks with concurrent waiters (see the file's comment).
  const waitMs = clients === 1 ? 5000 : 0;
  return {
    id: `gateway-c${clients}`,
    title: `HTTP gateway, ${clients} client${clients === 1 ? "" : "s"}`,
    description: `emq routes, ${clients} keep-alive client(s) in a child process: POST /enqueue/ for a fixed time, then /wait/ (timeout ${waitMs} ms) + /ack/ cycles until every enqueued task is acknowledged; jetq's gateway vs the real emq.`,
    metrics: [
      { id: "enqueue", title: `HTTP enqueue c=${clients}`, unit: "req/s", better: "higher" },
      { id: "waitack", title: `HTTP wait+ack c=${clients}`, unit: "cycles/s", better: "higher" },
    ],
    sides: ["jetq", "emq"] satisfies SideId[],
    async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
      const queue = `bench_${randomUUID().slice(0, 8)}`;
      const target = side === "jetq" ? await startJetqGateway(ctx, queue) : await startEmq();
      try {
        const durationMs = ctx.options.gatewaySeconds * 1000;
        const enq = await load({ url: target.url, mode: "enqueue", queue, clients, durationMs }, durationMs + 60_000);
        const cyc = await load(
          { url: target.url, mode: "wait-ack", queue, clients, durationMs: 0, expect: enq.done, waitTimeoutMs: waitMs },
          300_000,
        );
        if (enq.errors + cyc.errors > 0) throw new Error(`HTTP errors: enqueue ${enq.errors}, wait+ack ${cyc.errors}`);
        if (cyc.done < enq.done) throw new Error(`${enq.done} enqueued, ${cyc.done} handed out and acknowledged`);
        return {
          values: { enqueue: ratePerSecond(enq.done, enq.elapsedMs), waitack: ratePerSecond(cyc.done, cyc.elapsedMs) },
          detail: { enqueued: enq.done, cycles: cyc.done },
        };
      } finally {
        await target.stop();
      }
    },
  };
}
