/**
 * Per-queue time series of the last hour, one point per second, kept in the memory of `jetq
 * serve` from the task state events: tasks enqueued, started, completed and failed, and the
 * enqueue→start latency (p50, p99) of the tasks started in that second. Nothing is stored: after a
 * restart the charts start empty.
 */

import type { SeriesRates, SeriesView } from "./dashboard-views.js";

export type { SeriesRates, SeriesView };

/** What a point counts. */
export type SeriesKind = "enqueued" | "started" | "completed" | "failed";

const KINDS: readonly SeriesKind[] = ["enqueued", "started", "completed", "failed"];
const KIND_NO: Record<SeriesKind, number> = { enqueued: 0, started: 1, completed: 2, failed: 3 };

/** The name under which every queue's events are counted together. */
export const ALL_QUEUES = "*";

/** Latency samples kept per second at most (a uniform sample of them beyond that). */
const SAMPLES_PER_SECOND = 2048;

class Ring {
  readonly counts: Uint32Array;
  readonly quantiles: Float32Array;
  readonly second: Float64Array;
  samples: number[] = [];
  sampleSecond = -1;
  seen = 0;
  lastSecond = 0;

  constructor(readonly size: number) {
    this.counts = new Uint32Array(size * 4);
    this.quantiles = new Float32Array(size * 2).fill(Number.NaN);
    this.second = new Float64Array(size).fill(-1);
  }

  /** The slot of epoch second `s`, cleared when it held an older second. */
  slot(s: number): number {
    const i = s % this.size;
    if (this.second[i] !== s) {
      this.second[i] = s;
      this.counts.fill(0, i * 4, i * 4 + 4);
      this.quantiles[i * 2] = Number.NaN;
      this.quantiles[i * 2 + 1] = Number.NaN;
    }
    return i;
  }

  /** Turns the samples of their second into its p50/p99. */
  settle(): void {
    if (this.sampleSecond < 0 || this.samples.length === 0) return;
    const s = this.samples.sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
    const i = this.sampleSecond % this.size;
    if (this.second[i] === this.sampleSecond) {
      this.quantiles[i * 2] = at(0.5);
      this.quantiles[i * 2 + 1] = at(0.99);
    }
    this.samples = [];
    this.seen = 0;
  }

  sample(s: number, ms: number): void {
    if (s !== this.sampleSecond) {
      if (s < this.sampleSecond) return; // late sample of a settled second
      this.settle();
      this.sampleSecond = s;
    }
    this.seen++;
    if (this.samples.length < SAMPLES_PER_SECOND) this.samples.push(ms);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < SAMPLES_PER_SECOND) this.samples[j] = ms;
    }
  }
}

/** Options of {@link QueueSeries}. */
export interface QueueSeriesOptions {
  /** Seconds kept. @defaultValue 3600 */
  seconds?: number;
  /** The clock. @defaultValue `Date.now` */
  now?: () => number;
}

/** Time series per queue (and of all queues together, {@link ALL_QUEUES}). */
export class QueueSeries {
  private readonly rings = new Map<string, Ring>();
  private readonly size: number;
  private readonly now: () => number;

  constructor(opts: QueueSeriesOptions = {}) {
    this.size = opts.seconds ?? 3600;
    this.now = opts.now ?? Date.now;
  }

  private ring(queue: string): Ring {
    const r = this.rings.get(queue) ?? new Ring(this.size);
    this.rings.set(queue, r);
    return r;
  }

  /**
   * Counts one occurrence at `at` (epoch ms) in the queue's series and in the all-queues one;
   * `latencyMs` adds an enqueue→start sample.
   */
  record(queue: string, kind: SeriesKind, at: number, latencyMs?: number): void {
    const s = Math.floor(at / 1000);
    if (s <= Math.floor(this.now() / 1000) - this.size) return;
    for (const name of [queue, ALL_QUEUES]) {
      const r = this.ring(name);
      r.counts[r.slot(s) * 4 + KIND_NO[kind]]!++;
      r.lastSecond = Math.max(r.lastSecond, s);
      if (latencyMs !== undefined) r.sample(s, latencyMs);
    }
  }

  /** Queues with events in the window. */
  queues(): string[] {
    const oldest = Math.floor(this.now() / 1000) - this.size;
    return [...this.rings].filter(([q, r]) => q !== ALL_QUEUES && r.lastSecond > oldest).map(([q]) => q);
  }

  /** The last `seconds` complete seconds of a queue's series (zeros where nothing happened). */
  view(queue = ALL_QUEUES, seconds = this.size): SeriesView {
    const n = Math.min(seconds, this.size);
    const end = Math.floor(this.now() / 1000); // the current second is still filling
    const first = end - n;
    const r = this.rings.get(queue);
    const v: SeriesView = {
      start: first * 1000,
      seconds: n,
      enqueued: new Array<number>(n).fill(0),
      started: new Array<number>(n).fill(0),
      completed: new Array<number>(n).fill(0),
      failed: new Array<number>(n).fill(0),
      p50: new Array<number | null>(n).fill(null),
      p99: new Array<number | null>(n).fill(null),
    };
    if (!r) return v;
    if (r.sampleSecond < end) r.settle();
    for (let k = 0; k < n; k++) {
      const s = first + k;
      const i = s % this.size;
      if (r.second[i] !== s) continue;
      for (const kind of KINDS) v[kind][k] = r.counts[i * 4 + KIND_NO[kind]]!;
      const p50 = r.quantiles[i * 2]!;
      const p99 = r.quantiles[i * 2 + 1]!;
      if (!Number.isNaN(p50)) v.p50[k] = Math.round(p50 * 10) / 10;
      if (!Number.isNaN(p99)) v.p99[k] = Math.round(p99 * 10) / 10;
    }
    return v;
  }

  /** Average rates per second over the last `seconds` complete seconds. */
  rates(queue = ALL_QUEUES, seconds = 10): SeriesRates {
    const v = this.view(queue, seconds);
    const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / seconds;
    return { enqueued: avg(v.enqueued), started: avg(v.started), completed: avg(v.completed), failed: avg(v.failed) };
  }

  /** Drops queues with nothing in the window (memory stays flat as queues come and go). */
  prune(): void {
    const oldest = Math.floor(this.now() / 1000) - this.size;
    for (const [q, r] of this.rings) if (r.lastSecond <= oldest) this.rings.delete(q);
  }
}
