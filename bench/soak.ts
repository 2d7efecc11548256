/**
 * Soak: steady load for a long time, and the resident memory of every process involved.
 *
 * A nats-server (JetStream, file store), `jetq serve -a` on it (scheduler, gateway, cron, dependency
 * resolver), and this process as producer and worker: `--rate` tasks per second enqueued in small
 * batches and handled by a no-op router, for `--minutes`. Every `--sample` seconds it records the
 * RSS of nats-server, of `jetq serve` and of this process, and at the end says whether each stayed
 * flat: the mean of the last third of the samples within `--slack` (default 20%) of the mean of the
 * second third (the first third is warm-up). Task records are kept `--retention-s` (default 60 s),
 * so the stored data itself reaches a steady size and what grows is what leaks. Writes
 * bench/results/soak.json.
 *
 *   npx tsx bench/soak.ts --minutes 10 --rate 500
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client, newTask, Router, silentLogger } from "../src/index.js";
import { NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { sleep } from "./clock.js";
import { findPid } from "./cpu.js";
import { JetqServeProcess } from "./jetq-serve-process.js";
import { REPO_ROOT } from "./repo-root.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    rate: { type: "string", default: "500" },
    sample: { type: "string", default: "10" },
    slack: { type: "string", default: "0.2" },
    "retention-s": { type: "string", default: "60" },
    out: { type: "string", default: join(REPO_ROOT, "bench", "results") },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const sampleS = Number(values.sample);
const slack = Number(values.slack);

/** Resident set size of a process in MB, from /proc (undefined once it is gone). */
function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

const nats = await new NatsServerLauncher().start();
const natsPid = findPid(join(nats.store, "nats-server.conf"));
const queue = `soak${Date.now().toString(36)}`;
// Connected before `jetq serve` starts, so the task store is created with this client's retention.
const client = await Client.connect({
  servers: nats.url,
  queue,
  logger: silentLogger,
  concurrency: 50,
  taskRetentionMs: Number(values["retention-s"]) * 1000,
});
const serve = new JetqServeProcess(nats.url, 30_000, ["--http", "off"]);
await serve.start();
const ac = new AbortController();
let handled = 0;
const running = client.run(
  new Router().handle("soak", () => {
    handled++;
    return null;
  }),
  { signal: ac.signal },
);

const processes = { "nats-server": natsPid, "jetq serve": serve.pid, "producer+worker": process.pid } as const;
type Name = keyof typeof processes;
const samples: {
  at_s: number;
  rss_mb: Record<Name, number | undefined>;
  enqueued: number;
  handled: number;
  records: number;
}[] = [];
let enqueued = 0;
let serveDied = false;
const t0 = Date.now();
const end = t0 + minutes * 60_000;
const tickMs = 100;
const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
let nextSample = t0;
console.log(`soak: ${rate} tasks/s for ${minutes} min on ${nats.url}; sampling RSS every ${sampleS} s`);
for (let next = t0; Date.now() < end; next += tickMs) {
  await client.enqueueMany(Array.from({ length: perTick }, () => newTask("soak", { n: enqueued })));
  enqueued += perTick;
  if (Date.now() >= nextSample) {
    nextSample += sampleS * 1000;
    const rss = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, rssMb(pid)])) as Record<
      Name,
      number | undefined
    >;
    if (serve.pid !== undefined && rssMb(serve.pid) === undefined && !serveDied) {
      serveDied = true;
      console.log(`jetq serve exited; its last output:\n${serve.output.slice(-3000)}`);
    }
    const records = (await client.admin.tasksInfo()).records;
    samples.push({ at_s: Math.round((Date.now() - t0) / 1000), rss_mb: rss, enqueued, handled, records });
    const shown = Object.entries(rss)
      .map(([k, v]) => `${k} ${v?.toFixed(0) ?? "?"} MB`)
      .join(", ");
    console.log(
      `${String(samples.at(-1)!.at_s).padStart(5)} s  ${shown}  (enqueued ${enqueued}, handled ${handled}, records kept ${records})`,
    );
  }
  const wait = next + tickMs - Date.now();
  if (wait > 0) await sleep(wait);
}
ac.abort();
await running;
await client.close();
await serve.stop();
await nats.stop();

const third = Math.floor(samples.length / 3);
const verdicts = Object.fromEntries(
  (Object.keys(processes) as Name[]).map((name) => {
    const series = samples.map((s) => s.rss_mb[name]).filter((v): v is number => v !== undefined);
    const middle = mean(series.slice(third, 2 * third));
    const last = mean(series.slice(2 * third));
    return [
      name,
      {
        first_mb: series[0],
        middle_mb: middle,
        last_mb: last,
        growth: last / middle - 1,
        flat: last <= middle * (1 + slack),
      },
    ];
  }),
);
console.log("\nprocess           first    middle   last     growth  flat");
for (const [name, v] of Object.entries(verdicts))
  console.log(
    `${name.padEnd(17)} ${v.first_mb?.toFixed(0).padStart(5)} MB ${v.middle_mb.toFixed(0).padStart(5)} MB ${v.last_mb
      .toFixed(0)
      .padStart(5)} MB ${(v.growth * 100).toFixed(1).padStart(6)}%  ${v.flat ? "yes" : "NO"}`,
  );
mkdirSync(values.out, { recursive: true });
writeFileSync(
  join(values.out, "soak.json"),
  `${JSON.stringify({ at: new Date().toISOString(), minutes, rate, enqueued, handled, verdicts, samples }, null, 2)}\n`,
);
process.exit(!serveDied && Object.values(verdicts).every((v) => v.flat) ? 0 : 1);
