/** Live charts of a queue's last hour (uPlot): throughput, and enqueue→start latency. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type uPlot from "uplot";
import { duration, rate } from "./format.js";
import { useTickEffect } from "./live.js";
import type { Series, Tick } from "./types.js";

type Kind = "throughput" | "latency";

const LINES: Record<Kind, { key: keyof Series; label: string; color: string }[]> = {
  throughput: [
    { key: "enqueued", label: "enqueued", color: "--c-info" },
    { key: "started", label: "started", color: "--c-run" },
    { key: "completed", label: "completed", color: "--c-ok" },
    { key: "failed", label: "failed", color: "--c-bad" },
  ],
  latency: [
    { key: "p50", label: "p50", color: "--c-info" },
    { key: "p99", label: "p99", color: "--c-warn" },
  ],
};

/** uPlot, loaded after the first render (the page shows its numbers before the charts). */
let uplot: Promise<typeof uPlot> | undefined;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** The shortest window shown, seconds (the chart widens up to the hour as activity goes back). */
const MIN_WINDOW_S = 300;

/**
 * Columns for uPlot: seconds, then one array per line; quiet seconds before the first activity of
 * the hour are left out (down to {@link MIN_WINDOW_S}), so a young server's minutes are readable.
 */
function columns(s: Series): (number | null)[][] {
  const all = [...LINES.throughput, ...LINES.latency].map((l) => s[l.key] as (number | null)[]);
  let first = s.seconds;
  for (const col of all) {
    const i = col.findIndex((v) => v !== null && v !== 0);
    if (i >= 0 && i < first) first = i;
  }
  const from = Math.max(0, Math.min(first - 30, s.seconds - MIN_WINDOW_S));
  const xs = Array.from({ length: s.seconds - from }, (_, i) => s.start / 1000 + from + i);
  return [xs, ...all.map((col) => col.slice(from))];
}

/** The columns one chart draws: x, then its own lines. */
function linesOf(cols: (number | null)[][], kind: Kind): (number | null)[][] {
  return kind === "throughput" ? cols.slice(0, 5) : [cols[0]!, ...cols.slice(5)];
}

/** One chart; `series` is the hour loaded at first, ticks for `queue` ("*": all) append to it. */
export function SeriesChart(props: { series: Series; queue: string; kind: Kind; theme: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const data = useRef<(number | null)[][]>(linesOf(columns(props.series), props.kind));
  const [empty, setEmpty] = useState(true);

  useEffect(() => {
    data.current = linesOf(columns(props.series), props.kind);
    setEmpty(data.current.slice(1).every((col) => col.every((v) => !v)));
  }, [props.series, props.kind]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const grid = cssVar("--border");
    const text = cssVar("--muted");
    const fmt = props.kind === "latency" ? (v: number) => duration(v) : (v: number) => rate(v);
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: 180,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(props.kind === "latency" ? 10 : 1, max * 1.1)] },
      },
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          size: 64,
          values: (_u, vals) => vals.map((v) => fmt(v)),
        },
      ],
      series: [
        {},
        ...LINES[props.kind].map((l) => ({
          label: l.label,
          stroke: cssVar(l.color),
          width: 1.5,
          spanGaps: props.kind === "latency",
          ...(props.kind === "latency" ? { points: { show: true, size: 4 } } : {}),
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "–" : fmt(v)),
        })),
      ],
    };
    let u: uPlot | undefined;
    let ro: ResizeObserver | undefined;
    let gone = false;
    uplot ??= import("uplot").then((m) => (m as unknown as { default: typeof uPlot }).default);
    void uplot.then((UPlot) => {
      if (gone) return;
      const made = new UPlot(opts, data.current as uPlot.AlignedData, el);
      u = made;
      plot.current = made;
      ro = new ResizeObserver(() => made.setSize({ width: el.clientWidth, height: 180 }));
      ro.observe(el);
    });
    return () => {
      gone = true;
      ro?.disconnect();
      u?.destroy();
      plot.current = undefined;
    };
  }, [props.kind, props.theme]);

  useEffect(() => {
    plot.current?.setData(data.current as uPlot.AlignedData);
  }, [props.series]);

  const onTick = useCallback(
    (t: Tick) => {
      const p = t.points[props.queue] ?? {
        t: t.overview.at - (t.overview.at % 1000) - 1000,
        enqueued: 0,
        started: 0,
        completed: 0,
        failed: 0,
        p50: null,
        p99: null,
      };
      const cols = data.current;
      const x = p.t / 1000;
      const xs = cols[0]!;
      if (xs.length > 0 && x <= (xs[xs.length - 1] as number)) return;
      const values = LINES[props.kind].map((l) => p[l.key as keyof typeof p] as number | null);
      xs.push(x);
      for (let i = 0; i < values.length; i++) cols[i + 1]!.push(values[i]!);
      if (xs.length > 3600) for (const c of cols) c.shift();
      if (values.some((v) => v)) setEmpty(false);
      plot.current?.setData(cols as uPlot.AlignedData);
    },
    [props.queue, props.kind],
  );
  useTickEffect(onTick);

  return (
    <div class="chart">
      <div ref={box} class="chart-canvas" data-testid={`chart-${props.kind}`} />
      {empty ? (
        <div class="chart-empty">
          {props.kind === "latency" ? "No task started in the last hour" : "Nothing happened in the last hour"}
        </div>
      ) : null}
    </div>
  );
}
