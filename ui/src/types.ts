/** The shapes the dashboard's API answers with: the server's own types, and the page's. */
import type { TaskWire } from "../../src/jobs/storage/task-wire.js";

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

export type { TaskWire };

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
