/**
 * The benchmark harness behind `npm run bench` (entry: bench/run.ts) — every face of jetq (library,
 * HTTP emq routes and REST, outbox, scheduler) against raw JetStream, BullMQ and the real peers, in
 * one table per nats-server: starts its own nats-server and redis-servers, runs every scenario (sides
 * interleaved, several rounds), prints the table, the targets and the regressions against the
 * previous results of the same server version, and writes `latest-<server>.json`, `.md` and `.svg`
 * to the output directory. See bench/README.md.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { NatsServerBinary } from "../src/nats/nats-server-binary.js";
import { renderChart } from "./chart.js";
import { loadAverage, machineInfo } from "./machine.js";
import { benchNatsServers, serverKey, shownPath } from "./nats-servers.js";
import { type BenchOptions, parseOptions, USAGE } from "./options.js";
import { checkRegressions, regressionLines } from "./regressions.js";
import {
  alignRows,
  type BenchReport,
  cpuRows,
  formatRatio,
  markdownRows,
  markdownTable,
  notes,
  type ScenarioReport,
  tableTitle,
  textTable,
  withRatios,
} from "./report.js";
import { runScenario } from "./runner.js";
import { selectScenarios } from "./scenarios/index.js";
import { BenchServers } from "./servers.js";
import { targetLines, targetRules, targets } from "./targets.js";
import type { BenchContext } from "./types.js";

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

const CPU_NOTE =
  "CPU time per job, µs (client = the side's client process: this Node process, or the asyncjobs program; server = nats-server or redis-server):";

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

/** The servers of the run in progress, stopped on SIGINT/SIGTERM. */
let current: BenchServers | undefined;

/** One whole run on one nats-server: measures, judges, compares, writes. Resolves whether a side failed. */
async function runOn(binary: NatsServerBinary, o: BenchOptions): Promise<boolean> {
  const started = new Date();
  const loadAtStart = loadAverage();
  const scenarios = selectScenarios(o);
  const servers = new BenchServers(binary.path);
  current = servers;
  await servers.start();
  log(
    `nats-server ${binary.version} (${shownPath(binary.path)}); load average ${loadAtStart.join(" ")}; ${o.rounds} round(s) of ${o.jobs} jobs`,
  );
  log(
    `nats-server ${servers.nats.url}, redis ${servers.redis.bullmq.url} (no persistence), ${servers.redis["bullmq-aof"].url} (AOF everysec)`,
  );
  const ctx: BenchContext = { servers, options: o, log };
  const reports: ScenarioReport[] = [];
  try {
    for (const s of scenarios) {
      log(`— ${s.id}: ${s.description}`);
      const t0 = Date.now();
      const rep = withRatios(await runScenario(s, ctx));
      reports.push(rep);
      const line = ratioLine(rep);
      log(`  ${s.id} took ${Math.round((Date.now() - t0) / 1000)} s${line ? `; ratios (medians): ${line}` : ""}`);
    }
  } finally {
    await servers.stop();
    current = undefined;
  }
  const finished = new Date();
  const key = serverKey(binary.version);
  const base = `latest-${key}`;
  const partial: Omit<BenchReport, "regressions"> = {
    schema: "jetq-bench/2",
    mode: o.quick ? "quick" : "full",
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationS: Math.round((finished.getTime() - started.getTime()) / 1000),
    options: o,
    natsServer: { path: shownPath(binary.path), version: binary.version, key },
    machine: machineInfo(servers.natsVersion, servers.redisVersion, loadAtStart),
    scenarios: reports,
    targets: targets(reports, binary.version, o),
  };
  // Read the previous results before this run's replace them (when --out is the baseline directory).
  const report: BenchReport = {
    ...partial,
    regressions: await checkRegressions(join(o.baseline, `${base}.json`), partial),
  };
  const out = resolve(o.out);
  await mkdir(out, { recursive: true });
  const targetText = targetLines(report.targets);
  const regressionText = regressionLines(report.regressions);
  const rules = `targets (issue 14, the nats-server ${targetRules(binary.version)} rules):`;
  await writeFile(join(out, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(
    join(out, `${base}.md`),
    [
      `${tableTitle(report)}`,
      "",
      markdownTable(report),
      "",
      CPU_NOTE,
      "",
      markdownRows(cpuRows(report)),
      "",
      rules,
      "",
      ...targetText.map((l) => `- ${l}`),
      "",
      ...regressionText.map((l) => (l.startsWith("  ") ? `- ${l.trim()}` : l)),
      "",
    ].join("\n"),
  );
  await writeFile(join(out, `${base}.svg`), renderChart(report));

  const lines = [
    "",
    tableTitle(report),
    "",
    textTable(report),
    "",
    CPU_NOTE,
    alignRows(cpuRows(report)),
    "",
    rules,
    ...targetText.map((l) => `  ${l}`),
    ...(notes(report).length > 0 ? ["", "notes:", ...notes(report).map((l) => `  ${l}`)] : []),
    "",
    ...regressionText,
    "",
    `wrote ${join(out, `${base}.json`)}, ${base}.md and ${base}.svg (${report.durationS} s)`,
    "",
  ];
  process.stdout.write(lines.join("\n"));
  return reports.some((s) => Object.values(s.sides).some((r) => r?.failed));
}

async function main(o: BenchOptions): Promise<number> {
  const binaries = benchNatsServers(o);
  const stopOnSignal = () => {
    log("interrupted; stopping servers");
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  if (binaries.length > 1) log(`one run on each of: ${binaries.map((b) => `${b.version} (${b.path})`).join(", ")}`);
  let failed = false;
  for (const b of binaries) failed = (await runOn(b, o)) || failed;
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
