/**
 * The performance targets of issue 14, judged on one run. Which thresholds apply depends on the
 * nats-server the run used: the 2.14 rules on 2.14 and newer, the 2.9 rules on anything older.
 *
 * - 2.14: every enqueue-batched, process and drain row ≥ 1.0× BullMQ and ≥ 1.2× BullMQ+AOF;
 *   2.9: the same rows ≥ 0.8× BullMQ;
 * - enqueue sequential ≥ 0.9× raw JetStream's awaited publish of the same run (both servers: the
 *   physical limit of an awaited durable write on that server);
 * - server CPU per processed job (process c=100) ≤ 2× raw JetStream's; total (client + server)
 *   CPU per job there ≤ BullMQ's;
 * - HTTP emq routes with several clients (16 by default): enqueue ≥ 0.5× and wait+ack ≥ 0.6× the
 *   library's rates of the same run; with one client ≥ 1.0× the real emq, both rows;
 * - scale: every queue created works (a task through each), and one idle worker bound to
 *   `idleQueues` queues costs nats-server ≤ 2% of a core.
 * A target whose row did not run is left out; one whose row ran without a figure is `n/a` with the reason.
 */
import { compareVersions } from "../src/nats/nats-server-binary.js";
import type { BenchOptions } from "./options.js";
import { formatRatio, formatValue, medianOf, type Peer, ratioOf, type ScenarioReport } from "./report.js";
import { SIDE_LABELS, type SideId } from "./types.js";

/** One performance target and whether this run met it (null when it could not be judged). */
export interface TargetResult {
  id: string;
  /** What must hold, e.g. `enqueue batched ≥ 1.0× BullMQ`. */
  description: string;
  /** The measured value the target is judged on (a ratio, a count or a percentage). */
  value: number | null;
  /** The bound the value must meet. */
  threshold: number;
  comparison: ">=" | "<=";
  met: boolean | null;
  /** The measurement in words (e.g. `1.07× (jetq 18,926 vs BullMQ 17,694 jobs/s)`), or why there is none. */
  measured: string;
  /**
   * The ratio of the results table this target reads (`<scenario>.<metric> jetq/<peer>`), when it
   * is one; the regression check compares that ratio already.
   */
  ratio?: string;
}

/** The rule set for a server version: `"2.14"` from 2.14 on, else `"2.9"`. */
export function targetRules(natsVersion: string): "2.14" | "2.9" {
  return compareVersions(natsVersion, "2.14.0") >= 0 ? "2.14" : "2.9";
}

function judge(value: number | null, comparison: ">=" | "<=", threshold: number): boolean | null {
  if (value === null) return null;
  return comparison === ">=" ? value >= threshold : value <= threshold;
}

/** Why `side` has no figure in `s`: not run, not buildable, failed, or its reason. */
function missing(s: ScenarioReport, side: SideId): string {
  const res = s.sides[side];
  const label = SIDE_LABELS[side];
  if (!res) return `n/a: ${label} not in this run`;
  if (res.failed) return `n/a: ${label} FAILED (see notes)`;
  if (res.reason && /could not be built|is not built|does not exist/.test(res.reason))
    return `n/a: ${label} not buildable (see notes)`;
  if (res.reason) return `n/a: ${label}: ${res.reason.slice(0, 120)}`;
  return `n/a: ${label} has no figure`;
}

/** A target on the ratio jetq/`peer` of `metric` in `s`. */
function ratioTarget(
  s: ScenarioReport,
  metric: string,
  peer: Peer,
  comparison: ">=" | "<=",
  threshold: number,
  what = `${SIDE_LABELS[peer]}`,
): TargetResult {
  const m = s.metrics.find((x) => x.id === metric);
  const title = m?.title ?? `${s.id}.${metric}`;
  const unit = m?.unit ?? "";
  const value = s.ratios[metric]?.[`jetq/${peer}`] ?? null;
  const jetq = medianOf(s, "jetq", metric);
  const other = medianOf(s, peer, metric);
  const measured =
    value !== null
      ? `${formatRatio(value)} (jetq ${formatValue(jetq, unit)} vs ${SIDE_LABELS[peer]} ${formatValue(other, unit)} ${unit})`
      : jetq === null
        ? missing(s, "jetq")
        : missing(s, peer);
  return {
    id: `${s.id}.${metric} jetq/${peer}`,
    description: `${title} ${comparison === ">=" ? "≥" : "≤"} ${threshold.toFixed(1)}× ${what}`,
    value,
    threshold,
    comparison,
    met: judge(value, comparison, threshold),
    measured,
    ratio: `${s.id}.${metric} jetq/${peer}`,
  };
}

/**
 * The CPU targets on process c=100: server CPU vs raw JetStream's, total CPU vs BullMQ's. With the
 * raw floor that also stores an outcome record per job (`floor`) in the run, the server line says
 * what that floor costs against raw JetStream and how far jetq is above it.
 */
function cpuTargets(s: ScenarioReport, floor?: ScenarioReport): TargetResult[] {
  const cpu = (side: SideId) => s.sides[side]?.cpuUsPerJob;
  const j = cpu("jetq");
  const raw = cpu("raw");
  const bull = cpu("bullmq");
  const server = ratioOf(j?.server ?? null, raw?.server ?? null);
  const total = (c: typeof j) => (c && c.server !== null ? c.client + c.server : null);
  const totalRatio = ratioOf(total(j), total(bull));
  const title = s.metrics[0]?.title ?? s.id;
  const floorServer = floor?.sides.raw?.cpuUsPerJob?.server ?? null;
  const floorNote =
    server !== null && floorServer !== null
      ? `; raw JetStream with an outcome record per job: ${floorServer} µs (${formatRatio(ratioOf(floorServer, raw?.server ?? null))} raw), jetq ${formatRatio(ratioOf(j?.server ?? null, floorServer))} that`
      : "";
  return [
    {
      id: `${s.id} server-cpu jetq/raw`,
      description: `server CPU per processed job (${title}) ≤ 2.0× raw JetStream's`,
      value: server,
      threshold: 2,
      comparison: "<=",
      met: judge(server, "<=", 2),
      measured:
        server !== null
          ? `${formatRatio(server)} (jetq ${j?.server} µs vs raw JetStream ${raw?.server} µs of nats-server CPU per job${floorNote})`
          : j?.server == null
            ? missing(s, "jetq")
            : missing(s, "raw"),
    },
    {
      id: `${s.id} total-cpu jetq/bullmq`,
      description: `total CPU per job (${title}, client + server) ≤ 1.0× BullMQ's`,
      value: totalRatio,
      threshold: 1,
      comparison: "<=",
      met: judge(totalRatio, "<=", 1),
      measured:
        totalRatio !== null
          ? `${formatRatio(totalRatio)} (jetq ${total(j)} µs vs BullMQ ${total(bull)} µs per job)`
          : total(j) === null
            ? missing(s, "jetq")
            : missing(s, "bullmq"),
    },
  ];
}

/** The scale targets: every queue works; the idle worker's nats-server CPU ≤ 2% of a core. */
function scaleTargets(s: ScenarioReport, o: Pick<BenchOptions, "scaleQueues" | "idleQueues">): TargetResult[] {
  const working = medianOf(s, "jetq", "working");
  const idle = medianOf(s, "jetq", "idle");
  const base = medianOf(s, "jetq", "idleBase");
  const n = o.scaleQueues.toLocaleString("en-US");
  return [
    {
      id: "scale.working",
      description: `${n} queues created and working (a task through each)`,
      value: working,
      threshold: o.scaleQueues,
      comparison: ">=",
      met: judge(working, ">=", o.scaleQueues),
      measured:
        working === null
          ? missing(s, "jetq")
          : `${formatValue(working, "queues")} of ${n} queues ran their task; ${formatValue(medianOf(s, "jetq", "create"), "ms")} ms per queue creation`,
    },
    {
      id: "scale.idle",
      description: `one idle worker bound to ${o.idleQueues.toLocaleString("en-US")} queues costs nats-server ≤ 2% of a core`,
      value: idle,
      threshold: 2,
      comparison: "<=",
      met: judge(idle, "<=", 2),
      measured:
        idle === null
          ? missing(s, "jetq")
          : `${formatValue(idle, "% core")}% of a core (${formatValue(base, "% core")}% with no worker)`,
    },
  ];
}

/** The targets of issue 14 for the rows this run has, under the rules of `natsVersion`. */
export function targets(
  scenarios: ScenarioReport[],
  natsVersion: string,
  o: Pick<BenchOptions, "scaleQueues" | "idleQueues">,
): TargetResult[] {
  const modern = targetRules(natsVersion) === "2.14";
  const out: TargetResult[] = [];
  const floor = scenarios.find((f) => f.id === "raw-record-c100");
  for (const s of scenarios) {
    if (s.id === "enqueue-batched" || /^(process|drain)-c\d+$/.test(s.id)) {
      if (modern) out.push(ratioTarget(s, "rate", "bullmq", ">=", 1), ratioTarget(s, "rate", "bullmq-aof", ">=", 1.2));
      else out.push(ratioTarget(s, "rate", "bullmq", ">=", 0.8));
    }
    if (s.id === "enqueue-sequential")
      out.push(ratioTarget(s, "rate", "raw", ">=", 0.9, "raw JetStream's awaited publish"));
    if (s.id === "process-c100") out.push(...cpuTargets(s, floor));
    const http = /^http-c(\d+)$/.exec(s.id);
    if (http) {
      if (http[1] === "1") {
        out.push(ratioTarget(s, "enqueue", "emq", ">=", 1), ratioTarget(s, "waitack", "emq", ">=", 1));
      } else {
        out.push(
          ratioTarget(s, "enqueue", "library", ">=", 0.5, "the library's rate"),
          ratioTarget(s, "waitack", "library", ">=", 0.6, "the library's rate"),
        );
      }
    }
    if (s.id === "scale") out.push(...scaleTargets(s, o));
  }
  return out;
}

/** The targets as text lines (`met`, `MISSED`, `n/a`) and a count. */
export function targetLines(ts: TargetResult[]): string[] {
  const lines = ts.map((t) => {
    const status = t.met === null ? "n/a   " : t.met ? "met   " : "MISSED";
    return `${status} ${t.description}: ${t.measured}`;
  });
  const met = ts.filter((t) => t.met === true).length;
  const missed = ts.filter((t) => t.met === false).length;
  lines.push(`${met} of ${ts.length} met, ${missed} missed, ${ts.length - met - missed} n/a`);
  return lines;
}
