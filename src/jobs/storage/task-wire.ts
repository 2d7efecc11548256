/**
 * The wire form of a task, as stored in queue work items and task records (JSON, snake_case).
 * Documented in docs/storage.md; other languages read and write this shape. This module imports
 * nothing, so the dashboard page can use the type too.
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
  load_dependencies?: boolean;
  dependency_results?: Record<string, { value: unknown; completed: string }>;
  signature?: string;
  releases?: number;
  run?: number;
  run_at?: string;
  progress?: unknown;
  failures?: { try: number; at: string; error: string }[];
  trace_context?: Record<string, string>;
}
