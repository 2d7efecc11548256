// Outbox benchmark: messages/s through the outbox vs direct pipelined `js.publish` in the same run,
// and the drain rate of a backlog written while NATS was down. Starts its own nats-server.
//
//   npx tsx bench/outbox.ts [--count 100000] [--size 128] [--window 1024]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { silentLogger } from "../src/logger.js";
import { connectNats } from "../src/nats/connect.js";
import { NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { OutboxPublisher } from "../src/outbox/index.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const COUNT = arg("count", 100_000);
const SIZE = arg("size", 128);
const WINDOW = arg("window", 1024);

/** Runs `fn(0..n-1)` with at most `window` promises pending at once. */
function pipelined(n: number, window: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let next = 0;
    let inflight = 0;
    const launch = () => {
      while (inflight < window && next < n) {
        inflight++;
        fn(next++).then(() => {
          inflight--;
          if (next >= n && inflight === 0) resolve();
          else launch();
        }, reject);
      }
    };
    if (n === 0) resolve();
    else launch();
  });
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "jetq-bench-outbox-"));
  const server = await new NatsServerLauncher({ storeDir: join(dir, "nats") }).start();
  const nc = await connectNats({ servers: server.url, name: "bench-outbox" });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "BENCH", subjects: ["bench.>"], duplicate_window: 120_000_000_000 });
  const js = jetstream(nc);
  const payload = new Uint8Array(SIZE).fill(120);
  const results: Record<string, number> = {};
  try {
    // 1. Direct pipelined JetStream publishes with a de-duplication id.
    let t = performance.now();
    await pipelined(COUNT, WINDOW, (i) => js.publish("bench.direct", payload, { msgID: `d:${i}` }));
    results.directMsgsPerSec = rate(COUNT, performance.now() - t);
    await jsm.streams.purge("BENCH");

    // 2. Through the outbox, NATS up: from the first publish() to the last entry acknowledged and deleted.
    const pub = new OutboxPublisher({
      outbox: join(dir, "bench.db"),
      connection: nc,
      maxInFlight: WINDOW,
      log: silentLogger,
    });
    pub.start();
    t = performance.now();
    await pipelined(COUNT, 4 * WINDOW, () => pub.publish("bench.outbox", payload));
    const written = performance.now() - t;
    await pub.drained();
    results.outboxMsgsPerSec = rate(COUNT, performance.now() - t);
    results.outboxDurableWritesPerSec = rate(COUNT, written);
    results.ratio = Math.round((results.outboxMsgsPerSec / results.directMsgsPerSec) * 100) / 100;
    await jsm.streams.purge("BENCH");

    // 3. Outage: NATS stopped, COUNT messages written, NATS started; how fast is the backlog drained?
    const down = new Promise<void>((resolve) => pub.on("connection", (s) => s === "disconnected" && resolve()));
    await server.stop();
    await down;
    t = performance.now();
    await pipelined(COUNT, 4 * WINDOW, () => pub.publish("bench.outage", payload));
    results.writesWhileDownPerSec = rate(COUNT, performance.now() - t);
    const backlog = pub.stats().pending;
    const up = new Promise<void>((resolve) => pub.on("connection", (s) => s === "connected" && resolve()));
    await server.start();
    await up;
    t = performance.now();
    await pub.drained();
    results.backlog = backlog;
    results.drainMsgsPerSec = rate(backlog, performance.now() - t);
    const info = await jsm.streams.info("BENCH");
    results.streamMessagesAfterOutage = info.state.messages;
    await pub.stop();
  } finally {
    await nc.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const lines = [
    `outbox bench: ${COUNT} messages of ${SIZE} B, ${WINDOW} publishes in flight`,
    `  direct js.publish (pipelined):        ${results.directMsgsPerSec} msgs/s`,
    `  through the outbox (durable → acked):  ${results.outboxMsgsPerSec} msgs/s  (${results.ratio}× direct)`,
    `    of which durable writes:             ${results.outboxDurableWritesPerSec} msgs/s`,
    `  writes while NATS is down:             ${results.writesWhileDownPerSec} msgs/s`,
    `  backlog drain after the outage:        ${results.drainMsgsPerSec} msgs/s (${results.backlog} messages; stream has ${results.streamMessagesAfterOutage})`,
  ];
  process.stdout.write(
    `${lines.join("\n")}\n${JSON.stringify({ count: COUNT, size: SIZE, window: WINDOW, ...results })}\n`,
  );
}

await main();
