/**
 * Shared vocabulary of the benchmark harness: the sides compared, what a scenario measures and
 * what one run of a scenario on one side returns.
 */
import type { BenchOptions } from "./options.js";
import type { BenchServers } from "./servers.js";
import type { Distribution } from "./stats.js";

/**
 * The systems compared: jetq, BullMQ on Redis without persistence, BullMQ on Redis with an
 * append-only file fsynced every second, plain JetStream (the ceiling jetq is built on), the
 * real seed systems of jetq's faces: asyncjobs (library), emq (HTTP gateway), Gozo (scheduler),
 * and `library`: jetq's own library doing the same work in the same run, the reference of the rows
 * where the `jetq` column is another face (HTTP, REST, outbox).
 */
export type SideId = "jetq" | "bullmq" | "bullmq-aof" | "raw" | "asyncjobs" | "emq" | "gozo" | "library";

/** Every side, in the order tables and charts show them. */
export const ALL_SIDES: readonly SideId[] = [
  "jetq",
  "bullmq",
  "bullmq-aof",
  "raw",
  "asyncjobs",
  "emq",
  "gozo",
  "library",
];

/** The sides of the queue scenarios (enqueue, process, drain, latency): jetq, BullMQ twice, raw JetStream. */
export const QUEUE_SIDES: readonly SideId[] = ["jetq", "bullmq", "bullmq-aof", "raw"];

/** Human labels of the sides. */
export const SIDE_LABELS: Record<SideId, string> = {
  jetq: "jetq",
  bullmq: "BullMQ",
  "bullmq-aof": "BullMQ+AOF",
  raw: "raw JetStream",
  asyncjobs: "asyncjobs",
  emq: "emq",
  gozo: "Gozo",
  library: "library",
};

/** One number a scenario reports for every side (a row of the results table). */
export interface MetricSpec {
  /** Unique within the scenario, e.g. `"rate"` or `"p99"`. */
  id: string;
  /** Row label, e.g. `"process c=10"`. */
  title: string;
  /** Unit of the value, e.g. `"jobs/s"` or `"ms"`. */
  unit: string;
  /** Whether a larger value is better (throughput) or a smaller one (latency). */
  better: "higher" | "lower";
}

/** What one run of a scenario on one side measured. */
export interface SideRun {
  /** A value for every metric of the scenario, keyed by {@link MetricSpec.id}. */
  values: Record<string, number>;
  /** Raw latency samples (ms) of this run, pooled across rounds into a {@link Distribution}. */
  samples?: number[];
  /**
   * Extra facts worth keeping (e.g. jobs that never arrived, enqueue time). With `clientCpuMs`, the
   * run counts in the CPU-per-job table, divided by `jobs` when given (else by `options.jobs`).
   */
  detail?: Record<string, number | string>;
}

/** Thrown by a scenario when a side cannot be measured (e.g. the scheduler is not built yet). */
export class SideUnavailable extends Error {
  override readonly name = "SideUnavailable";
}

/** What scenarios get to do their work. */
export interface BenchContext {
  servers: BenchServers;
  options: BenchOptions;
  /** Progress output (stderr). */
  log(msg: string): void;
}

/** A benchmark scenario: measured on each of its sides, once per round. */
export interface Scenario {
  /** Stable id used in JSON and on the command line (`--only`). */
  id: string;
  title: string;
  /** What is measured and how, one or two sentences (copied into the JSON). */
  description: string;
  metrics: MetricSpec[];
  /** Sides this scenario runs on. */
  sides: readonly SideId[];
  /** Rounds of this scenario, whatever `--rounds` says (a scenario too long to repeat). @defaultValue `options.rounds` */
  rounds?: number;
  /** Measures one side once. @throws SideUnavailable when the side cannot be measured */
  run(side: SideId, ctx: BenchContext): Promise<SideRun>;
}

/** Results of one side of one scenario over all rounds. */
export interface SideResult {
  /** Per metric: the value of every round, in order. */
  rounds: Record<string, number[]>;
  /** Per metric: the median of the rounds, or null when the side could not be measured. */
  median: Record<string, number | null>;
  /** Pooled latency samples of all rounds, summarised. */
  distribution?: Distribution;
  /**
   * Median CPU time per job of this process (`client`) and of the side's server, µs — for the
   * throughput scenarios, which run `options.jobs` jobs. Less sensitive to a busy machine than rates.
   */
  cpuUsPerJob?: { client: number; server: number | null };
  /** Why the side has no figures (unavailable, or failed in every round). */
  reason?: string;
  /** Errors of rounds that failed while other rounds succeeded. */
  errors?: string[];
  /** True when the side failed with an unexpected error (not merely unavailable). */
  failed?: boolean;
  detail?: Record<string, number | string>[];
}
