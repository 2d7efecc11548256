/** The shapes the dashboard's API answers with: the server's own types, and the page's. */
export type {
  DashboardConfig as Config,
  IndexStatus,
  OverviewView as Overview,
  QueueCounts,
  QueueRow,
  QueueView as QueueDetail,
  SeriesPoint,
  SeriesRates as Rates,
  SeriesView as Series,
  Tick,
  WorkersView,
} from "../../src/dashboard/dashboard-views.js";

/**
 * A task in its wire form, as docs/storage.md describes it (the codec that writes it lives with the
 * storage, which the page cannot import).
 */
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
