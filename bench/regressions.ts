/**
 * The regression check: every figure of a run compared with the committed previous results of the
 * same nats-server version (`bench/results/latest-<server>.json`), and every one more than 20%
 * worse listed. It never fails the run: the machine may be noisier than the one that made the
 * previous results, so the list is for a person to read.
 *
 * The figures compared are the ratios of the results table (jetq / each peer, and jetq / its
 * library for the other faces), which a slower or faster machine moves much less than rates; for a
 * row with no ratio (no peer measured), jetq's own median; and the targets that are not a table
 * ratio (CPU per job). "Worse" follows the row: lower for throughput, higher for latency and CPU.
 */
import { readFile } from "node:fs/promises";
import { formatRatio, formatValue, PEERS, type ScenarioReport } from "./report.js";
import type { TargetResult } from "./targets.js";
import { SIDE_LABELS } from "./types.js";

/** A figure is a regression when it is worse than the previous one by more than this fraction. */
export const REGRESSION_LIMIT = 0.2;

/**
 * Changes of jetq's own figure below these (per unit of the row) are never regressions: a lateness
 * going from 1 to 2 ms is +100% (and so is its ratio to a peer) and means nothing.
 */
const NOISE_FLOOR: Record<string, number> = { ms: 1, "% core": 0.5 };

/** One figure of a run that the check compares. */
export interface Comparable {
  /** Stable identity across runs, e.g. `process-c100.rate jetq/bullmq`. */
  key: string;
  /** How it is printed, e.g. `process c=100 jetq/BullMQ`. */
  label: string;
  value: number;
  better: "higher" | "lower";
  /** `ratio` (printed as 1.23×), `target`, or the unit of an absolute median. */
  unit: string;
  /** jetq's own median in the row and the row's unit, for the noise floor. */
  jetq?: { value: number; unit: string };
}

/** A figure that got worse by more than {@link REGRESSION_LIMIT}. */
export interface Regression {
  key: string;
  label: string;
  previous: number;
  current: number;
  unit: string;
  /** The change in the bad direction, as a fraction (0.26 = 26% worse). */
  worse: number;
}

/** The outcome of the check, as written to the JSON and printed. */
export interface RegressionCheck {
  /** The previous results file. */
  baseline: string;
  /** `checked`; `none`: no previous results; `other-mode`: a quick run against a full one (or back). */
  status: "checked" | "none" | "other-mode";
  /** What the previous results were (mode, date, server), or why there were none. */
  about: string;
  /** Figures present in both runs. */
  compared: number;
  regressions: Regression[];
}

/** The parts of a results document the check reads (any schema with scenarios and targets). */
export interface ComparableReport {
  mode: string;
  finishedAt?: string;
  scenarios: ScenarioReport[];
  targets?: Pick<TargetResult, "id" | "description" | "value" | "comparison" | "ratio">[];
  natsServer?: { version: string };
  machine?: { natsServer?: string };
}

/** Every figure of `r` the check compares (see the module comment). */
export function comparables(r: ComparableReport): Comparable[] {
  const out: Comparable[] = [];
  for (const s of r.scenarios) {
    if (!s.sides.jetq) continue;
    for (const m of s.metrics) {
      const own = s.sides.jetq.median[m.id];
      let ratios = 0;
      for (const peer of PEERS) {
        const v = s.ratios[m.id]?.[`jetq/${peer}`];
        if (typeof v !== "number") continue;
        ratios++;
        out.push({
          key: `${s.id}.${m.id} jetq/${peer}`,
          label: `${m.title} jetq/${SIDE_LABELS[peer]}`,
          value: v,
          better: m.better,
          unit: "ratio",
          ...(typeof own === "number" ? { jetq: { value: own, unit: m.unit } } : {}),
        });
      }
      if (ratios === 0 && typeof own === "number")
        out.push({
          key: `${s.id}.${m.id} jetq`,
          label: `${m.title} (jetq, ${m.unit})`,
          value: own,
          better: m.better,
          unit: m.unit,
          jetq: { value: own, unit: m.unit },
        });
    }
  }
  for (const t of r.targets ?? []) {
    if (t.ratio || typeof t.value !== "number") continue;
    out.push({
      key: `target ${t.id}`,
      label: t.description,
      value: t.value,
      better: t.comparison === ">=" ? "higher" : "lower",
      unit: "target",
    });
  }
  return out;
}

/** How much worse `current` is than `previous` (≤ 0: not worse), or null when it cannot be said. */
function worseBy(previous: number, current: number, better: "higher" | "lower"): number | null {
  if (!(previous > 0) || !(current >= 0)) return null;
  return better === "higher" ? 1 - current / previous : 1 - previous / Math.max(current, Number.MIN_VALUE);
}

/** Compares two runs figure by figure: how many were compared and which got worse by more than the limit. */
export function compareReports(
  previous: ComparableReport,
  current: ComparableReport,
): { compared: number; regressions: Regression[] } {
  const before = new Map(comparables(previous).map((c) => [c.key, c]));
  let compared = 0;
  const regressions: Regression[] = [];
  for (const c of comparables(current)) {
    const p = before.get(c.key);
    if (!p) continue;
    compared++;
    const worse = worseBy(p.value, c.value, c.better);
    if (worse === null || worse <= REGRESSION_LIMIT) continue;
    const floor = c.jetq && p.jetq ? NOISE_FLOOR[c.jetq.unit] : undefined;
    if (floor !== undefined && c.jetq && p.jetq && Math.abs(c.jetq.value - p.jetq.value) < floor) continue;
    regressions.push({ key: c.key, label: c.label, previous: p.value, current: c.value, unit: c.unit, worse });
  }
  regressions.sort((a, b) => b.worse - a.worse);
  return { compared, regressions };
}

/** The server version a results document names. */
function versionOf(r: ComparableReport): string {
  return (r.natsServer?.version ?? r.machine?.natsServer ?? "unknown").replace(/^v/, "");
}

/**
 * Reads the previous results `baseline` (if there are any) and compares `current` with them.
 * A quick run is compared only with a quick run, a full one with a full one.
 */
export async function checkRegressions(baseline: string, current: ComparableReport): Promise<RegressionCheck> {
  let previous: ComparableReport;
  try {
    previous = JSON.parse(await readFile(baseline, "utf8")) as ComparableReport;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    return { baseline, status: "none", about: `no previous results (${why})`, compared: 0, regressions: [] };
  }
  const about = `${previous.mode} run of ${previous.finishedAt?.slice(0, 16).replace("T", " ") ?? "?"} UTC on nats-server ${versionOf(previous)}`;
  if (previous.mode !== current.mode) return { baseline, status: "other-mode", about, compared: 0, regressions: [] };
  return { baseline, status: "checked", about, ...compareReports(previous, current) };
}

const figures = (n: number) => `${n} figure${n === 1 ? "" : "s"}`;

function show(v: number, unit: string): string {
  if (unit === "ratio") return formatRatio(v);
  if (unit === "target") return v.toFixed(3);
  return `${formatValue(v, unit)} ${unit}`;
}

/** The check as the lines of the REGRESSIONS block. */
export function regressionLines(c: RegressionCheck): string[] {
  const head = `REGRESSIONS vs ${c.baseline} (${c.about})`;
  if (c.status === "none") return [`REGRESSIONS: not checked, ${c.about}: ${c.baseline}`];
  if (c.status === "other-mode")
    return [
      `${head}: not checked, the previous results are a run of another mode (quick and full runs differ in size)`,
    ];
  if (c.regressions.length === 0)
    return [`${head}: none — ${figures(c.compared)} compared, none more than ${REGRESSION_LIMIT * 100}% worse`];
  return [
    `${head}: ${c.regressions.length} of ${figures(c.compared)} more than ${REGRESSION_LIMIT * 100}% worse:`,
    ...c.regressions.map(
      (g) =>
        `  ${g.label}: ${show(g.previous, g.unit)} → ${show(g.current, g.unit)} (${Math.round(g.worse * 100)}% worse)`,
    ),
  ];
}
