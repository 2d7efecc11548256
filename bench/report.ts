/**
 * The benchmark's results: ratios of jetq to its peers, the targets, the text and markdown
 * tables, and the JSON document written to `latest.json`.
 */
import type { MachineInfo } from "./machine.js";
import type { BenchOptions } from "./options.js";
import type { ScenarioResult } from "./runner.js";
import { round3 } from "./stats.js";
import { ALL_SIDES, SIDE_LABELS, type SideId } from "./types.js";

/** The peers jetq is divided by in ratios. */
export const PEERS = ["bullmq", "bullmq-aof", "raw", "asyncjobs", "emq", "gozo"] as const;
/** One of {@link PEERS}. */
export type Peer = (typeof PEERS)[number];
/** Ratio keys: `jetq/bullmq`, `jetq/bullmq-aof`, `jetq/raw`, `jetq/asyncjobs`, `jetq/emq`, `jetq/gozo`. */
export type RatioKey = `jetq/${Peer}`;

/** One performance target and whether this run met it (null when it could not be judged). */
export interface TargetResult {
  id: string;
  description: string;
  /** The measured ratio the target is judged on. */
  value: number | null;
  /** The bound the value must meet. */
  threshold: number;
  /** `>=` for throughput ratios, `<=` for lateness ratios. */
  comparison: ">=" | "<=";
  met: boolean | null;
}

/** A scenario with its ratios: per metric, jetq's median divided by each peer's median. */
export interface ScenarioReport extends ScenarioResult {
  ratios: Record<string, Partial<Record<RatioKey, number | null>>>;
}

/** The document written to `latest.json`. */
export interface BenchReport {
  schema: "jetq-bench/1";
  mode: "full" | "quick";
  startedAt: string;
  finishedAt: string;
  durationS: number;
  options: BenchOptions;
  machine: MachineInfo;
  scenarios: ScenarioReport[];
  targets: TargetResult[];
}

/** The median of `side` for `metric` in `s`, or null. */
export function medianOf(s: ScenarioResult, side: SideId, metric: string): number | null {
  return s.sides[side]?.median[metric] ?? null;
}

const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : round3(a / b));

/** Adds jetq/peer ratios to every metric of a scenario. */
export function withRatios(s: ScenarioResult): ScenarioReport {
  const ratios: ScenarioReport["ratios"] = {};
  for (const m of s.metrics) {
    const r: Partial<Record<RatioKey, number | null>> = {};
    for (const peer of PEERS) {
      if (s.sides[peer] && s.sides.jetq) r[`jetq/${peer}`] = ratio(medianOf(s, "jetq", m.id), medianOf(s, peer, m.id));
    }
    ratios[m.id] = r;
  }
  return { ...s, ratios };
}

function judge(value: number | null, comparison: ">=" | "<=", threshold: number): boolean | null {
  if (value === null) return null;
  return comparison === ">=" ? value >= threshold : value <= threshold;
}

/**
 * The targets: jetq ≥ 1.0× BullMQ (both Redis modes) on every throughput row; jetq's scheduler
 * p99 lateness ≤ 1/10 of BullMQ's; jetq processing at concurrency 100 ≥ 50% of raw async publish.
 */
export function targets(scenarios: ScenarioReport[]): TargetResult[] {
  const out: TargetResult[] = [];
  for (const s of scenarios) {
    for (const m of s.metrics) {
      if (m.better !== "higher" || !s.sides.jetq) continue;
      for (const peer of ["bullmq", "bullmq-aof"] as const) {
        if (!s.sides[peer]) continue;
        const value = s.ratios[m.id]?.[`jetq/${peer}`] ?? null;
        out.push({
          id: `${s.id}.${m.id} jetq/${peer}`,
          description: `${m.title}: jetq ≥ 1.0× ${SIDE_LABELS[peer]}`,
          value,
          threshold: 1,
          comparison: ">=",
          met: judge(value, ">=", 1),
        });
      }
    }
  }
  const delayed = scenarios.find((s) => s.id === "delayed");
  if (delayed) {
    for (const peer of ["bullmq", "bullmq-aof"] as const) {
      const value = delayed.ratios.p99?.[`jetq/${peer}`] ?? null;
      out.push({
        id: `delayed.p99 jetq/${peer}`,
        description: `scheduler p99 lateness ≤ 1/10 of ${SIDE_LABELS[peer]}'s`,
        value,
        threshold: 0.1,
        comparison: "<=",
        met: judge(value, "<=", 0.1),
      });
    }
  }
  const c100 = scenarios.find((s) => s.id === "process-c100");
  const raw = scenarios.find((s) => s.id === "raw");
  if (c100 && raw) {
    const value = ratio(medianOf(c100, "jetq", "rate"), medianOf(raw, "raw", "publish"));
    out.push({
      id: "process-c100.rate jetq/raw.publish",
      description: "jetq processing at c=100 ≥ 50% of raw async publish",
      value,
      threshold: 0.5,
      comparison: ">=",
      met: judge(value, ">=", 0.5),
    });
  }
  return out;
}

/** Formats a figure: rates as integers with separators, milliseconds with 1–2 decimals. */
export function formatValue(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return "n/a";
  if (unit === "ms") return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return Math.round(v).toLocaleString("en-US");
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
  const sides = sidesIn(r);
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

/** The targets as text lines (`met`, `MISSED`, `n/a`). */
export function targetLines(ts: TargetResult[]): string[] {
  return ts.map((t) => {
    const status = t.met === null ? "n/a   " : t.met ? "met   " : "MISSED";
    const v = t.value === null ? "n/a" : `${t.value.toFixed(3)}`;
    return `${status} ${t.description}: ${v} (needs ${t.comparison} ${t.threshold})`;
  });
}
