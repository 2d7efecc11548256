/**
 * `npm run bench` — jetq vs raw JetStream vs BullMQ in one run: starts its own nats-server and
 * redis-servers, runs every scenario (sides interleaved, several rounds), prints a table and
 * writes `latest.json`, `latest.md` and `latest.svg` to the output directory. See bench/README.md.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { renderChart } from "./chart.js";
import { loadAverage, machineInfo } from "./machine.js";
import { type BenchOptions, parseOptions, USAGE } from "./options.js";
import {
  alignRows,
  type BenchReport,
  cpuRows,
  formatRatio,
  markdownRows,
  markdownTable,
  notes,
  type ScenarioReport,
  targetLines,
  targets,
  textTable,
  withRatios,
} from "./report.js";
import { runScenario } from "./runner.js";
import { selectScenarios } from "./scenarios/index.js";
import { BenchServers } from "./servers.js";
import type { BenchContext } from "./types.js";

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function ratioLine(s: ScenarioReport): string {
  return s.metrics
    .map((m) => {
      const r = s.ratios[m.id] ?? {};
      const parts = Object.entries(r).map(([k, v]) => `${k} ${formatRatio(v)}`);
      return parts.length > 0 ? `${m.title}: ${parts.join(", ")}` : "";
    })
    .filter(Boolean)
    .join(" | ");
}

async function main(o: BenchOptions): Promise<number> {
  const started = new Date();
  const loadAtStart = loadAverage();
  const scenarios = selectScenarios(o);
  const servers = new BenchServers();
  const stopOnSignal = () => {
    log("interrupted; stopping servers");
    void servers.stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  await servers.start();
  log(`load average ${loadAtStart.join(" ")}; ${o.rounds} round(s) of ${o.jobs} jobs`);
  log(
    `nats-server ${servers.nats.url}, redis ${servers.redis.bullmq.url} (no persistence), ${servers.redis["bullmq-aof"].url} (AOF everysec)`,
  );
  const ctx: BenchContext = { servers, options: o, log };
  const reports: ScenarioReport[] = [];
  try {
    for (const s of scenarios) {
      log(`— ${s.id}: ${s.description}`);
      const rep = withRatios(await runScenario(s, ctx));
      reports.push(rep);
      const line = ratioLine(rep);
      if (line) log(`  ratios (medians): ${line}`);
    }
  } finally {
    await servers.stop();
  }
  const finished = new Date();
  const report: BenchReport = {
    schema: "jetq-bench/1",
    mode: o.quick ? "quick" : "full",
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationS: Math.round((finished.getTime() - started.getTime()) / 1000),
    options: o,
    machine: machineInfo(servers.natsVersion, servers.redisVersion, loadAtStart),
    scenarios: reports,
    targets: targets(reports),
  };
  const out = resolve(o.out);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  const cpuNote =
    "CPU time per job, µs (client = the side's client process: this Node process, or the asyncjobs program; server = nats-server or redis-server):";
  await writeFile(
    join(out, "latest.md"),
    `${markdownTable(report)}\n\n${cpuNote}\n\n${markdownRows(cpuRows(report))}\n`,
  );
  await writeFile(join(out, "latest.svg"), renderChart(report));

  const lines = [
    "",
    textTable(report),
    "",
    cpuNote,
    alignRows(cpuRows(report)),
    "",
    "targets:",
    ...targetLines(report.targets).map((l) => `  ${l}`),
    ...(notes(report).length > 0 ? ["", "notes:", ...notes(report).map((l) => `  ${l}`)] : []),
    "",
    `wrote ${join(out, "latest.json")}, latest.md and latest.svg (${report.durationS} s)`,
    "",
  ];
  process.stdout.write(lines.join("\n"));
  const failed = reports.some((s) => Object.values(s.sides).some((r) => r?.failed));
  return failed ? 1 : 0;
}

let opts: BenchOptions | "help";
try {
  opts = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
if (opts === "help") {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
main(opts).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
