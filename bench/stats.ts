/**
 * Order statistics for benchmark samples: medians of rounds, percentiles of latency samples.
 * Percentiles use the nearest-rank method on a sorted copy, so every reported value is one that
 * was actually observed.
 */

/** Sorts a copy of `values` ascending. */
export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/**
 * The `p`-th percentile (0–100) of `values` by nearest rank; `NaN` for no values.
 * `percentile(xs, 100)` is the maximum.
 */
export function percentile(values: readonly number[], p: number, alreadySorted = false): number {
  if (values.length === 0) return Number.NaN;
  const s = alreadySorted ? values : sorted(values);
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * s.length);
  return s[Math.max(0, rank - 1)] ?? Number.NaN;
}

/** The median of `values` (mean of the two middle values for an even count); `NaN` for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = sorted(values);
  const mid = s.length >> 1;
  const hi = s[mid] ?? Number.NaN;
  return s.length % 2 === 1 ? hi : ((s[mid - 1] ?? hi) + hi) / 2;
}

/** Percentiles reported for latency-like samples. */
export const DISTRIBUTION_POINTS = [0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100] as const;

/** A latency distribution: the value at each of {@link DISTRIBUTION_POINTS}, keyed `p50`, `p99.9`, … */
export type Distribution = Record<string, number>;

/** Summarises samples at {@link DISTRIBUTION_POINTS} (`p0` is the minimum, `p100` the maximum). */
export function distribution(values: readonly number[]): Distribution {
  const s = sorted(values);
  const out: Distribution = {};
  for (const p of DISTRIBUTION_POINTS) out[`p${p}`] = round3(percentile(s, p, true));
  return out;
}

/** Rounds to 3 decimals (keeps JSON readable without losing meaningful precision). */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Rate in items per second for `count` items over `ms` milliseconds. */
export function ratePerSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : Number.NaN;
}
