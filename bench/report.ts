/**
 * The benchmark's results: ratios of jetq to its peers, the text and markdown tables, and the JSON
 * document written to `latest-<server>.json`.
 */
import type { MachineInfo } from "./machine.js";
import type { BenchOptions } from "./options.js";
import type { RegressionCheck } from "./regressions.js";
import type { ScenarioResult } from "./runner.js";
import { round3 } from "./stats.js";
import type { TargetResult } from "./targets.js";
import { ALL_SIDES, SIDE_LABELS, type SideId } from "./types.js";

/** The sides jetq is divided by in ratios (`library`: jetq's library, the reference of the other faces). */
export const PEERS = ["bullmq", "bullmq-aof", "raw", "asyncjobs", "emq", "gozo", "library"] as const;
/** One of {@link PEERS}. */
export type Peer = (typeof PEERS)[number];
/** Ratio keys: `jetq/bullmq`, `jetq/bullmq-aof`, `jetq/raw`, …, `jetq/library`. */
export type RatioKey = `jetq/${Peer}`;

/** A scenario with its ratios: per metric, jetq's median divided by each peer's median. */
export interface ScenarioReport extends ScenarioResult {
  ratios: Record<string, Partial<Record<RatioKey, number | null>>>;
}

/** The nats-server a run used. */
export interface NatsServerUsed {
  /** The binary (a path, or `nats-server` from PATH). */
  path: string;
  /** Its version, e.g. `"2.14.10"`. */
  version: string;
  /** What its results are filed under: major.minor, e.g. `"2.14"` (`latest-2.14.json`). */
  key: string;
}

/** The document written to `latest-<server>.json`. */
export interface BenchReport {
  schema: "jetq-bench/2";
  mode: "full" | "quick";
  startedAt: string;
  finishedAt: string;
  durationS: number;
  options: BenchOptions;
  natsServer: NatsServerUsed;
  machine: MachineInfo;
  scenarios: ScenarioReport[];
  targets: TargetResult[];
  /** This run against the previous results of the same server version. */
  regressions: RegressionCheck;
}

/** The median of `side` for `metric` in `s`, or null. */
export function medianOf(s: ScenarioResult, side: SideId, metric: string): number | null {
  return s.sides[side]?.median[metric] ?? null;
}

/** `a / b` to 3 decimals, or null when either is missing or `b` is 0. */
export const ratioOf = (a: number | null, b: number | null): number | null =>
  a === null || b === null || b === 0 ? null : round3(a / b);

/** Adds jetq/peer ratios to every metric of a scenario. */
export function withRatios(s: ScenarioResult): ScenarioReport {
  const ratios: ScenarioReport["ratios"] = {};
  for (const m of s.metrics) {
    const r: Partial<Record<RatioKey, number | null>> = {};
    for (const peer of PEERS) {
      if (s.sides[peer] && s.sides.jetq)
        r[`jetq/${peer}`] = ratioOf(medianOf(s, "jetq", m.id), medianOf(s, peer, m.id));
    }
    ratios[m.id] = r;
  }
  return { ...s, ratios };
}

/** Formats a figure: rates and counts as integers with separators, milliseconds and percentages with 1–2 decimals. */
export function formatValue(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return "n/a";
  if (unit === "ms" || unit === "% core") return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return Math.round(v).toLocaleString("en-US");
}

/** The line above the tables: server version and sizes of the run. */
export function tableTitle(r: Pick<BenchReport, "natsServer" | "mode" | "options">): string {
  const o = r.options;
  // Results written before the option existed measured the sources.
  const jetq = o.jetq === "built" ? "jetq built by tsc" : "jetq from its sources (tsx)";
  return `jetq bench on nats-server ${r.natsServer.version} (${r.natsServer.path}): ${r.mode} run, ${o.jobs.toLocaleString("en-US")} jobs, ${o.rounds} round(s), medians, ${jetq}`;
}

/** Formats a ratio as `1.23×`. */
export function formatRatio(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : `${v.toFixed(2)}×`;
}

const SIDE_ORDER: readonly SideId[] = ALL_SIDES;

/** The sides that appear in at least one scenario, in table order. */
function sidesIn(r: Pick<BenchReport, "scenarios">): SideId[] {
  return SIDE_ORDER.filter((side) => r.scenarios.some((s) => s.sides[side]));
}

/** Rows of the results table: one per scenario metric; columns only for sides that ran somewhere. */
export function tableRows(r: Pick<BenchReport, "scenarios">): string[][] {
  const sides = sidesIn(r);
  const peers = PEERS.filter((p) => sides.includes(p));
  const header = ["row", "unit", ...sides.map((s) => SIDE_LABELS[s]), ...peers.map((p) => `jetq/${SIDE_LABELS[p]}`)];
  const rows = [header];
  for (const s of r.scenarios) {
    for (const m of s.metrics) {
      rows.push([
        m.title,
        m.unit,
        ...sides.map((side) => (s.sides[side] ? formatValue(medianOf(s, side, m.id), m.unit) : "–")),
        ...peers.map((p) => formatRatio(s.ratios[m.id]?.[`jetq/${p}`])),
      ]);
    }
  }
  return rows;
}

/** The results as an aligned plain-text table (for stdout). */
export function textTable(r: Pick<BenchReport, "scenarios">): string {
  return alignRows(tableRows(r));
}

/** The results as a markdown table (for bench/README.md). */
export function markdownTable(r: Pick<BenchReport, "scenarios">): string {
  return markdownRows(tableRows(r));
}

/** Why sides have no figures or fewer rounds, one line each (unavailable or failed). */
export function notes(r: Pick<BenchReport, "scenarios">): string[] {
  const out: string[] = [];
  for (const s of r.scenarios) {
    for (const side of SIDE_ORDER) {
      const res = s.sides[side];
      if (res?.reason) out.push(`${s.id} / ${SIDE_LABELS[side]}: ${res.failed ? "FAILED" : "n/a"} — ${res.reason}`);
      for (const e of res?.errors ?? [])
        out.push(`${s.id} / ${SIDE_LABELS[side]}: ${res?.failed ? "FAILED" : "n/a"} ${e}`);
    }
  }
  return out;
}

/** Rows of the CPU table: client and server CPU µs per job of every side, per throughput row. */
export function cpuRows(r: Pick<BenchReport, "scenarios">): string[][] {
  const sides = sidesIn(r).filter((side) => r.scenarios.some((s) => s.sides[side]?.cpuUsPerJob));
  const rows = [["row", ...sides.map((s) => `${SIDE_LABELS[s]} client/server`)]];
  for (const s of r.scenarios) {
    if (!sides.some((side) => s.sides[side]?.cpuUsPerJob)) continue;
    const cell = (side: SideId) => {
      const c = s.sides[side]?.cpuUsPerJob;
      return c ? `${c.client} / ${c.server ?? "?"}` : "–";
    };
    rows.push([s.metrics[0]?.title ?? s.id, ...sides.map(cell)]);
  }
  return rows;
}

/** Aligns rows into a plain-text table (first column left, others right). */
export function alignRows(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
  return rows
    .map((row, k) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  ")
        .concat(k === 0 ? `\n${widths.map((w) => "-".repeat(w)).join("  ")}` : ""),
    )
    .join("\n");
}

/** Renders rows as a markdown table. */
export function markdownRows(rows: string[][]): string {
  const line = (row: string[]) => `| ${row.join(" | ")} |`;
  const [header, ...body] = rows;
  if (!header) return "";
  return [line(header), `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`, ...body.map(line)].join(
    "\n",
  );
}
