/** The shapes the dashboard's API answers with (see src/dashboard/dashboard-service.ts). */

export interface Rates {
  enqueued: number;
  started: number;
  completed: number;
  failed: number;
}

export interface QueueCounts {
  waiting: number;
  waiting_by_priority: number[];
  in_flight: number;
  active: number;
  retry: number;
  delayed: number;
  blocked: number;
  complete: number;
  expired: number;
  terminated: number;
  unreachable: number;
  cancelled: number;
  dead_letters: number;
}

export interface QueueRow {
  name: string;
  paused: boolean;
  rate_limit?: { limit: number; interval_ms: number };
  hold_until?: number;
  counts: QueueCounts;
  rates: Rates;
  error?: string;
}

export interface IndexStatus {
  ready: boolean;
  tasks: number;
  replayed: number;
  records: number;
  buildMs?: number;
}

export interface Overview {
  at: number;
  index: IndexStatus;
  queues: QueueRow[];
  rates: Rates;
}

export interface SeriesPoint {
  t: number;
  enqueued: number;
  started: number;
  completed: number;
  failed: number;
  p50: number | null;
  p99: number | null;
}

export interface Series {
  start: number;
  seconds: number;
  enqueued: number[];
  started: number[];
  completed: number[];
  failed: number[];
  p50: (number | null)[];
  p99: (number | null)[];
}

export interface Tick {
  overview: Overview;
  points: Record<string, SeriesPoint>;
}

/** A task in its wire form (docs/storage.md). */
export interface TaskWire {
  id: string;
  type: string;
  queue: string;
  payload?: unknown;
  payload_b64?: string;
  deadline?: string;
  max_tries: number;
  priority: number;
  result?: { value: unknown; completed: string };
  state: string;
  created: string;
  tried?: string;
  tries: number;
  last_err?: string;
  dependencies?: string[];
  signature?: string;
  run_at?: string;
  progress?: unknown;
  failures?: { try: number; at: string; error: string }[];
}

export interface TaskDetail {
  task: TaskWire;
  logs: { at: number; line: string }[];
  dependants: string[];
  dead_letter?: { reason: string; dead_at: number };
  signed: boolean;
  index?: { state: string; updated_at: number };
}

export interface QueueDetail extends QueueRow {
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
  types: string[];
  consumers: { name: string; pending: number; in_flight: number; waiting_pulls: number; redelivered: number }[];
}

export interface LiveEvent {
  type: string;
  timestamp: number;
  task_id?: string;
  queue: string;
  state?: string;
  tries?: number;
  line?: string;
  progress?: unknown;
  action?: string;
  last_error?: string;
}

export interface Config {
  version: string;
  read_only: boolean;
  auth: boolean;
}
