/**
 * Same-process A/B of the worker's client CPU between two checkouts of jetq: each round enqueues
 * N tasks with one checkout's `Client`, then that checkout's worker drains them (no-op handler),
 * and the rounds alternate between the checkouts (A B, B A, A B, …) on one nats-server. On a
 * shared machine whose speed drifts by tens of percent within minutes, two separate bench runs
 * cannot tell a 10% change apart; alternating rounds in one process can. The first round of each
 * is a warm-up and not counted.
 *
 *   git worktree add --detach ../jetq-before <commit> && ln -s "$PWD/node_modules" ../jetq-before/
 *   npx tsx bench/ab-worker.ts --a ../jetq-before --b . [--concurrency 100] [--jobs 20000] [--rounds 7]
 *
 * Prints each round and the median and lowest client CPU µs per task of each checkout.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { deferred } from "./clock.js";
import { Stopwatch } from "./cpu.js";
import { benchNatsServers } from "./nats-servers.js";
import type * as JetqSide from "./sides/jetq.js";
import { median, ratePerSecond } from "./stats.js";

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string", default: "." },
    concurrency: { type: "string", default: "100" },
    jobs: { type: "string", default: "20000" },
    rounds: { type: "string", default: "7" },
    "nats-server": { type: "string" },
  },
});
if (!values.a) {
  console.error(
    "usage: npx tsx bench/ab-worker.ts --a <checkout> [--b <checkout>] [--concurrency n] [--jobs n] [--rounds n]",
  );
  process.exit(2);
}
const c = Number(values.concurrency);
const n = Number(values.jobs);
const rounds = Number(values.rounds);

const checkouts = await Promise.all(
  [values.a, values.b].map(async (dir) => {
    const root = resolve(dir);
    const side: typeof JetqSide = await import(`${root}/bench/sides/jetq.ts`);
    return { root, side, cpu: [] as number[] };
  }),
);
const [binary] = benchNatsServers({ natsServers: values["nats-server"] ? [values["nats-server"]] : [], both: false });
const server = await new NatsServerLauncher({ binary: binary?.path }).start();
console.log(`nats-server ${server.version}; ${n} tasks per round, concurrency ${c}`);
try {
  for (let r = 0; r < rounds; r++) {
    for (const co of r % 2 === 0 ? checkouts : [...checkouts].reverse()) {
      const { side } = co;
      const queue = side.uniqueQueue();
      const producer = await side.connectJetq(server.url, queue, c, Math.max(100, c));
      const workerClient = await side.connectJetq(server.url, queue, c, Math.max(100, c));
      await producer.enqueueMany(side.jetqTasks(n));
      let started = 0;
      const allStarted = deferred<void>();
      const sw = new Stopwatch(undefined).start();
      const worker = side.startJetqWorker(workerClient, () => {
        if (++started === n) allStarted.resolve();
      });
      await allStarted.promise;
      await side.jetqDrained(producer, queue, 300_000);
      const { ms, cpu } = sw.stop();
      const us = (cpu.clientCpuMs * 1000) / n;
      if (r > 0) co.cpu.push(us);
      console.log(`round ${r} ${co.root}: ${Math.round(ratePerSecond(n, ms))} tasks/s, ${us.toFixed(1)} µs/task`);
      await worker.stop();
      await side.cleanupJetq(producer, queue);
      await producer.close();
    }
  }
} finally {
  await server.stop();
}
for (const { root, cpu } of checkouts) {
  console.log(`${root}: median ${median(cpu).toFixed(1)} µs/task, lowest ${Math.min(...cpu).toFixed(1)}`);
}
