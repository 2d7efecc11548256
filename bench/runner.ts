/**
 * Runs scenarios round by round, the sides interleaved (the order rotates each round so no side
 * always goes first), and keeps every round's figures.
 */
import { sleep } from "./clock.js";
import { distribution, median } from "./stats.js";
import {
  type BenchContext,
  type MetricSpec,
  type Scenario,
  type SideId,
  type SideResult,
  SideUnavailable,
} from "./types.js";

/** Results of one scenario: its definition and every side's figures. */
export interface ScenarioResult {
  id: string;
  title: string;
  description: string;
  metrics: MetricSpec[];
  sides: Partial<Record<SideId, SideResult>>;
}

/**
 * Median client and server CPU µs per job over the rounds whose detail has `clientCpuMs`; each round
 * is divided by its own `jobs` (else `defaultJobs`).
 */
function cpuPerJob(details: Record<string, number | string>[], defaultJobs: number): SideResult["cpuUsPerJob"] {
  const perJob = (d: Record<string, number | string>, key: string) =>
    (Number(d[key]) * 1000) / (Number(d.jobs) > 0 ? Number(d.jobs) : defaultJobs);
  const client = details.map((d) => perJob(d, "clientCpuMs")).filter(Number.isFinite);
  if (client.length === 0) return undefined;
  const server = details.map((d) => perJob(d, "serverCpuMs")).filter(Number.isFinite);
  return { client: Math.round(median(client)), server: server.length > 0 ? Math.round(median(server)) : null };
}

/** Pause between two runs, so servers settle (AOF rewrites, stream deletes) before the next one. */
const SETTLE_MS = 300;

function rotate<T>(xs: readonly T[], by: number): T[] {
  if (xs.length === 0) return [];
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(2));

/**
 * Runs `scenario` for `rounds` rounds on the selected sides. A side unavailable in its first round
 * keeps the reason and is not tried again; a round that fails later is noted in `errors` and the
 * median is taken over the rounds that worked. Any unexpected error marks the side `failed`.
 */
export async function runScenario(scenario: Scenario, ctx: BenchContext): Promise<ScenarioResult> {
  const { sides: selected } = ctx.options;
  const rounds = scenario.rounds ?? ctx.options.rounds;
  const sides = scenario.sides.filter((s) => selected.includes(s));
  const results = new Map<SideId, SideResult>();
  const samples = new Map<SideId, number[]>();
  for (const side of sides) {
    const rs: Record<string, number[]> = {};
    for (const m of scenario.metrics) rs[m.id] = [];
    results.set(side, { rounds: rs, median: {}, detail: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const side of rotate(sides, r)) {
      const res = results.get(side);
      if (!res || res.reason) continue;
      const label = `${scenario.id} [${r + 1}/${rounds}] ${side}`;
      try {
        const run = await scenario.run(side, ctx);
        for (const m of scenario.metrics) res.rounds[m.id]?.push(run.values[m.id] ?? Number.NaN);
        if (run.samples) samples.set(side, [...(samples.get(side) ?? []), ...run.samples]);
        if (run.detail) res.detail?.push(run.detail);
        const cpu =
          run.detail && "clientCpuMs" in run.detail
            ? ` (cpu ms: client ${run.detail.clientCpuMs}, server ${run.detail.serverCpuMs ?? "?"})`
            : "";
        const values = scenario.metrics.map((m) => `${m.id}=${fmt(run.values[m.id] ?? Number.NaN)} ${m.unit}`);
        ctx.log(`${label}: ${values.join(", ")}${cpu}`);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        const unavailable = err instanceof SideUnavailable;
        const measured = Object.values(res.rounds).some((v) => v.length > 0);
        ctx.log(`${label}: ${unavailable ? "n/a" : "FAILED"}: ${msg}`);
        if (!unavailable) res.failed = true;
        // Unavailable from the start: don't try again. Otherwise keep the rounds that worked and go on.
        if (unavailable && !measured) res.reason = msg;
        else res.errors = [...(res.errors ?? []), `round ${r + 1}: ${msg}`];
      }
      await sleep(SETTLE_MS);
    }
  }
  for (const [side, res] of results) {
    for (const m of scenario.metrics) {
      const vals = (res.rounds[m.id] ?? []).filter((v) => Number.isFinite(v));
      res.median[m.id] = vals.length === 0 ? null : median(vals);
    }
    const measured = Object.values(res.rounds).some((v) => v.some((x) => Number.isFinite(x)));
    if (!measured && !res.reason) res.reason = res.errors?.join("; ") ?? "no round succeeded";
    const s = samples.get(side);
    if (s && s.length > 0 && !res.reason) res.distribution = distribution(s);
    const cpu = cpuPerJob(res.detail ?? [], ctx.options.jobs);
    if (cpu && !res.reason) res.cpuUsPerJob = cpu;
    if (res.detail?.length === 0) delete res.detail;
  }
  return {
    id: scenario.id,
    title: scenario.title,
    description: scenario.description,
    metrics: scenario.metrics,
    sides: Object.fromEntries(results),
  };
}
