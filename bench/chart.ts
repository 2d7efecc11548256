/**
 * A hand-written SVG chart of a {@link BenchReport}: jetq's throughput ratios to its peers, the
 * absolute throughput of every side, and the latency / lateness distributions. No dependencies.
 */
import { type BenchReport, formatRatio, formatValue, medianOf, PEERS, type ScenarioReport } from "./report.js";
import { SIDE_LABELS, type SideId } from "./types.js";

const W = 1000;
const LABEL_W = 190;
const PLOT_X = LABEL_W + 20;
const PLOT_W = W - PLOT_X - 150;
const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\"";

/** Colours of the sides (jetq's own is used for its absolute bars). */
export const SIDE_COLORS: Record<SideId, string> = {
  jetq: "#2a9d8f",
  bullmq: "#d1495b",
  "bullmq-aof": "#edae49",
  raw: "#5e60ce",
  asyncjobs: "#6c757d",
  emq: "#8d6e63",
  gozo: "#3d5a80",
  library: "#90be6d",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

function legend(y: number, items: [string, string][]): string {
  let x = PLOT_X;
  return items
    .map(([label, color]) => {
      const out = `<rect x="${x}" y="${y - 9}" width="12" height="12" rx="2" fill="${color}"/>${text(x + 17, y + 1, label, 'font-size="12"')}`;
      x += 30 + label.length * 7;
      return out;
    })
    .join("");
}

interface Row {
  title: string;
  scenario: ScenarioReport;
  metric: string;
}

/** The rows whose figure is a rate (jobs/s, req/s, …). */
function throughputRows(r: BenchReport): Row[] {
  return r.scenarios.flatMap((s) =>
    s.metrics
      .filter((m) => m.better === "higher" && m.unit.endsWith("/s"))
      .map((m) => ({ title: m.title, scenario: s, metric: m.id })),
  );
}

/** Panel: jetq/peer ratios on a log2 axis centred on parity. Returns [svg, height]. */
function ratioPanel(r: BenchReport, y0: number): [string, number] {
  const rows = throughputRows(r).filter((row) => row.scenario.sides.jetq);
  const LIM = 4; // log2 range ±4 → 1/16× … 16×
  const xOf = (ratio: number) =>
    PLOT_X + ((Math.max(-LIM, Math.min(LIM, Math.log2(ratio))) + LIM) / (2 * LIM)) * PLOT_W;
  const bar = 11;
  const rowH = PEERS.length * (bar + 2) + 12;
  const top = y0 + 48;
  const h = 48 + rows.length * rowH + 40;
  const parts = [
    text(
      20,
      y0 + 18,
      "jetq throughput relative to each peer (median of rounds; right of 1× = jetq faster)",
      'font-size="16" font-weight="600"',
    ),
    legend(
      y0 + 38,
      PEERS.map((p) => [`jetq / ${SIDE_LABELS[p]}`, SIDE_COLORS[p]]),
    ),
  ];
  for (let k = -LIM; k <= LIM; k++) {
    const x = xOf(2 ** k);
    parts.push(
      `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + rows.length * rowH}" stroke="${k === 0 ? "#333" : "#e3e3e3"}" stroke-width="${k === 0 ? 1.5 : 1}"/>`,
    );
    parts.push(
      text(
        x,
        top + rows.length * rowH + 16,
        k >= 0 ? `${2 ** k}×` : `1/${2 ** -k}×`,
        'font-size="11" text-anchor="middle" fill="#555"',
      ),
    );
  }
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    parts.push(text(LABEL_W, y + rowH / 2, row.title, 'font-size="13" text-anchor="end"'));
    PEERS.forEach((p, j) => {
      const by = y + 4 + j * (bar + 2);
      const v = row.scenario.ratios[row.metric]?.[`jetq/${p}`];
      if (v === undefined) return;
      if (v === null) {
        parts.push(text(xOf(1) + 4, by + bar - 1, `jetq / ${SIDE_LABELS[p]}: n/a`, 'font-size="10" fill="#888"'));
        return;
      }
      const x1 = xOf(1);
      const x2 = xOf(v);
      parts.push(
        `<rect x="${Math.min(x1, x2).toFixed(1)}" y="${by}" width="${Math.max(1, Math.abs(x2 - x1)).toFixed(1)}" height="${bar}" fill="${SIDE_COLORS[p]}"/>`,
      );
      parts.push(
        text(
          x2 >= x1 ? x2 + 4 : x2 - 4,
          by + bar - 1,
          formatRatio(v),
          `font-size="10" ${x2 >= x1 ? "" : 'text-anchor="end"'}`,
        ),
      );
    });
  });
  return [parts.join("\n"), h];
}

/** Panel: absolute throughput of every side, linear axis per row. */
function absolutePanel(r: BenchReport, y0: number): [string, number] {
  const sidesShown = new Set<SideId>(["jetq", "bullmq", "bullmq-aof", "raw"]);
  const rows = throughputRows(r).filter((row) =>
    (Object.keys(row.scenario.sides) as SideId[]).some((s) => s !== "jetq" && sidesShown.has(s)),
  );
  const sides: SideId[] = ["jetq", "bullmq", "bullmq-aof", "raw"];
  const bar = 9;
  const rowH = sides.length * (bar + 2) + 12;
  const top = y0 + 48;
  const h = 48 + rows.length * rowH + 20;
  const max = Math.max(1, ...rows.flatMap((row) => sides.map((s) => medianOf(row.scenario, s, row.metric) ?? 0)));
  const parts = [
    text(
      20,
      y0 + 18,
      "Absolute throughput of the queue rows (jobs/s or msgs/s, median of rounds)",
      'font-size="16" font-weight="600"',
    ),
    legend(
      y0 + 38,
      sides.map((s) => [SIDE_LABELS[s], SIDE_COLORS[s]]),
    ),
  ];
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    parts.push(text(LABEL_W, y + rowH / 2, row.title, 'font-size="13" text-anchor="end"'));
    sides.forEach((s, j) => {
      if (!row.scenario.sides[s]) return;
      const v = medianOf(row.scenario, s, row.metric);
      const by = y + 4 + j * (bar + 2);
      const w = v === null ? 0 : (v / max) * PLOT_W;
      if (w > 0)
        parts.push(`<rect x="${PLOT_X}" y="${by}" width="${w.toFixed(1)}" height="${bar}" fill="${SIDE_COLORS[s]}"/>`);
      parts.push(text(PLOT_X + w + 4, by + bar - 1, formatValue(v, "jobs/s"), 'font-size="10" fill="#333"'));
    });
  });
  return [parts.join("\n"), h];
}

/** Panel: distributions (p0–p100 whisker, p25–p75 box, p50 tick, p99 marker) on a log ms axis. */
function distributionPanel(r: BenchReport, y0: number): [string, number] {
  const scenarios = r.scenarios.filter((s) => s.metrics.every((m) => m.unit === "ms"));
  const rows = scenarios.flatMap((s) =>
    (Object.keys(s.sides) as SideId[]).map((side) => ({ s, side, res: s.sides[side] })),
  );
  const LO = -1; // 0.1 ms
  const HI = 4; // 10 s
  const xOf = (ms: number) =>
    PLOT_X + ((Math.max(LO, Math.min(HI, Math.log10(Math.max(ms, 1e-3)))) - LO) / (HI - LO)) * PLOT_W;
  const rowH = 26;
  const top = y0 + 48;
  let y = top;
  const parts = [
    text(
      20,
      y0 + 18,
      "Latency and lateness distributions (ms, log scale, all rounds pooled)",
      'font-size="16" font-weight="600"',
    ),
    text(
      PLOT_X,
      y0 + 38,
      "whisker: min–max · box: p25–p75 · bar: p50 · diamond: p99 · values ≤ 0.1 ms (incl. early deliveries) sit on the left edge",
      'font-size="12" fill="#555"',
    ),
  ];
  let last = "";
  for (const { s, side, res } of rows) {
    if (s.id !== last) {
      parts.push(text(20, y + 14, s.title, 'font-size="13" font-weight="600"'));
      y += 20;
      last = s.id;
    }
    const cy = y + rowH / 2;
    parts.push(text(LABEL_W, cy + 4, SIDE_LABELS[side], 'font-size="13" text-anchor="end"'));
    const d = res?.distribution;
    if (!d || res?.reason) {
      parts.push(
        text(PLOT_X, cy + 4, `n/a — ${(res?.reason ?? "no samples").slice(0, 110)}`, 'font-size="11" fill="#888"'),
      );
    } else {
      const c = SIDE_COLORS[side];
      const p = (k: string) => d[k] ?? 0;
      parts.push(
        `<line x1="${xOf(p("p0"))}" y1="${cy}" x2="${xOf(p("p100"))}" y2="${cy}" stroke="${c}" stroke-width="1.5"/>`,
      );
      parts.push(
        `<rect x="${xOf(p("p25"))}" y="${cy - 7}" width="${Math.max(1, xOf(p("p75")) - xOf(p("p25")))}" height="14" fill="${c}" fill-opacity="0.45" stroke="${c}"/>`,
      );
      parts.push(
        `<line x1="${xOf(p("p50"))}" y1="${cy - 9}" x2="${xOf(p("p50"))}" y2="${cy + 9}" stroke="#222" stroke-width="2.5"/>`,
      );
      const x99 = xOf(p("p99"));
      parts.push(
        `<path d="M${x99} ${cy - 6} L${x99 + 6} ${cy} L${x99} ${cy + 6} L${x99 - 6} ${cy} Z" fill="${c}" stroke="#222"/>`,
      );
      parts.push(
        text(
          PLOT_X + PLOT_W + 10,
          cy + 4,
          `p50 ${formatValue(p("p50"), "ms")} · p99 ${formatValue(p("p99"), "ms")}`,
          'font-size="11"',
        ),
      );
    }
    y += rowH;
  }
  for (let k = LO; k <= HI; k++) {
    const x = xOf(10 ** k);
    parts.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${y}" stroke="#e3e3e3"/>`);
    parts.push(
      text(
        x,
        y + 16,
        k < 0 ? "0.1 ms" : k < 3 ? `${10 ** k} ms` : `${10 ** (k - 3)} s`,
        'font-size="11" text-anchor="middle" fill="#555"',
      ),
    );
  }
  return [parts.join("\n"), y - y0 + 30];
}

/** Renders the whole chart as a standalone SVG document. */
export function renderChart(r: BenchReport): string {
  const m = r.machine;
  const head = [
    text(
      20,
      30,
      `jetq benchmark on nats-server ${r.natsServer.version} — ${r.mode} run, ${r.options.jobs.toLocaleString("en-US")} jobs, ${r.options.rounds} round(s), medians`,
      'font-size="20" font-weight="700"',
    ),
    text(
      20,
      50,
      `${r.finishedAt.slice(0, 16).replace("T", " ")} UTC · ${m.cpus} CPUs (${m.cpuModel}) · Node ${m.node} · nats-server ${m.natsServer} · Redis ${m.redis} · BullMQ ${m.bullmq} · load avg at start ${m.loadAverage.start[0]}`,
      'font-size="12" fill="#555"',
    ),
  ];
  let y = 70;
  const panels: string[] = [];
  for (const panel of [ratioPanel, absolutePanel, distributionPanel]) {
    const [svg, h] = panel(r, y);
    panels.push(svg);
    y += h + 10;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...head,
    ...panels,
    "</svg>",
    "",
  ].join("\n");
}
