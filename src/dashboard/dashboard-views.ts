/**
 * The shapes the dashboard's API answers with (JSON), shared by `jetq serve` and the page (`ui/`,
 * which imports this file's types): it imports nothing, so it type-checks on both sides.
 */

/** Roles a `jetq serve` instance announces. */
export interface ServeRoles {
  /** Whether it fires the delayed messages (the elected scheduler) or stands by. */
  scheduler: "leader" | "follower";
  /** Whether it fires the cron task schedules. */
  task_scheduler: "leader" | "follower";
  /** URL of its HTTP gateway, when it runs one. */
  gateway?: string;
  /** Whether it serves the dashboard. */
  dashboard: boolean;
}

/** A worker process as its heartbeat describes it. */
export interface WorkerInstance {
  instance: string;
  host: string;
  pid: number;
  version: string;
  queues: string[];
  concurrency: number;
  running: number;
  /** Epoch ms. */
  started: number;
  /** When its last heartbeat arrived, epoch ms. */
  lastSeen: number;
}

/** A `jetq serve` instance as its heartbeat describes it. */
export interface ServeInstance {
  instance: string;
  host: string;
  pid: number;
  version: string;
  started: number;
  roles: ServeRoles;
  lastSeen: number;
}

/** A series as the dashboard charts it. */
export interface SeriesView {
  /** Epoch ms of the first point; points are one second apart. */
  start: number;
  /** Seconds covered. */
  seconds: number;
  enqueued: number[];
  started: number[];
  completed: number[];
  failed: number[];
  /** Median enqueue→start latency of the tasks started in that second, ms (null: none started). */
  p50: (number | null)[];
  /** 99th percentile of the same, ms. */
  p99: (number | null)[];
}

/** Rates over the last seconds, per second. */
export interface SeriesRates {
  enqueued: number;
  started: number;
  completed: number;
  failed: number;
}

/** Where the index build stands. */
export interface IndexStatus {
  /** True once the first build from the stream finished. */
  ready: boolean;
  /** Tasks indexed now. */
  tasks: number;
  /** Records replayed by the build in progress (or the last one). */
  replayed: number;
  /** Records in the stream when that build started. */
  records: number;
  /** How long the first build took, ms. */
  buildMs?: number;
}

/** The counts of one queue on the overview. */
export interface QueueCounts {
  /** Not yet handed to a worker (consumer info), by priority level (index 0 most urgent). */
  waiting: number;
  waiting_by_priority: number[];
  /** Handed to a worker and not yet acknowledged: running, or waiting for a retry (consumer info). */
  in_flight: number;
  /** The other states, from the index. */
  active: number;
  retry: number;
  delayed: number;
  blocked: number;
  complete: number;
  expired: number;
  terminated: number;
  unreachable: number;
  cancelled: number;
  /** Entries in the queue's dead-letter store. */
  dead_letters: number;
}

/** One queue on the overview. */
export interface QueueRow {
  name: string;
  paused: boolean;
  rate_limit?: { limit: number; interval_ms: number };
  /** Epoch ms until which a handler holds the queue back. */
  hold_until?: number;
  counts: QueueCounts;
  /** Per second over the last 10 s. */
  rates: SeriesRates;
  /** When the queue's numbers could not be read. */
  error?: string;
}

/** The overview: every queue, the index status, rates of everything together. */
export interface OverviewView {
  at: number;
  index: IndexStatus;
  queues: QueueRow[];
  rates: SeriesRates;
}

/** What a viewer gets every second: the overview and the newest second of every series (`*`: all). */
export interface Tick {
  overview: OverviewView;
  points: Record<string, SeriesPoint>;
}

/** One live update for a viewer: a tick, or an event of what it follows (its wire form). */
export type LiveUpdate = { kind: "tick"; data: Tick } | { kind: "event"; data: Record<string, unknown> };

/** One second of a series. */
export interface SeriesPoint {
  t: number;
  enqueued: number;
  started: number;
  completed: number;
  failed: number;
  p50: number | null;
  p99: number | null;
}

/** The settings the page asks for first. */
export interface DashboardConfig {
  version: string;
  read_only: boolean;
  /** Whether the gateway asks for a bearer token. */
  auth: boolean;
}

/** `GET /ui/api/queues/{queue}`: a queue's row with its definition, task types and consumers. */
export interface QueueView extends QueueRow {
  config: {
    max_age_ms: number;
    max_entries: number;
    discard_old: boolean;
    max_tries: number;
    max_run_time_ms: number;
    max_concurrent: number;
    dead_letters: boolean;
    dead_letter_retention_ms: number;
  };
  /** Task types indexed in the queue. */
  types: string[];
  consumers: { name: string; pending: number; in_flight: number; waiting_pulls: number; redelivered: number }[];
}

/** `GET /ui/api/workers`. */
export interface WorkersView {
  workers: WorkerInstance[];
  serves: ServeInstance[];
  /** Candidate names by elected component (`scheduler`, `task-scheduler`). */
  leaders: Record<string, string>;
}
