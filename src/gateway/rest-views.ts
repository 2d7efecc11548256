/**
 * The JSON views of the REST API (snake_case): tasks in their wire form, queue definitions, queue
 * controls and task log lines.
 */
import type { z } from "@hono/zod-openapi";
import type { ResolvedQueue } from "../jobs/queue.js";
import type { QueueControls } from "../jobs/queue-controls.js";
import { encodeTask } from "../jobs/storage/task-codec.js";
import type { Task } from "../jobs/task.js";
import type { TaskLogLine } from "../jobs/task-logs.js";
import type { QueueConfigView, QueueControlsView, TaskReply } from "./schemas.js";

const utf8 = new TextDecoder();

/** A task in its wire form (docs/storage.md), as the REST API shows it. */
export function taskView(task: Task): z.infer<typeof TaskReply>["task"] {
  return JSON.parse(utf8.decode(encodeTask(task)));
}

/** A queue definition in the REST API's snake_case. */
export function queueView(q: ResolvedQueue): z.infer<typeof QueueConfigView> {
  return {
    name: q.name,
    max_age_ms: q.maxAgeMs,
    max_entries: q.maxEntries,
    discard_old: q.discardOld,
    max_tries: q.maxTries,
    max_run_time_ms: q.maxRunTimeMs,
    max_concurrent: q.maxConcurrent,
    dead_letters: q.deadLetters,
    dead_letter_retention_ms: q.deadLetterRetentionMs,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Queue controls in the REST API's snake_case. */
export function controlsView(c: QueueControls): z.infer<typeof QueueControlsView> {
  return {
    paused: c.paused !== undefined,
    ...(c.paused ? { paused_at: iso(c.paused.at) } : {}),
    ...(c.rateLimit ? { rate_limit: { limit: c.rateLimit.limit, interval_ms: c.rateLimit.intervalMs } } : {}),
    ...(c.holdUntil !== undefined && c.holdUntil > Date.now() ? { hold_until: iso(c.holdUntil) } : {}),
  };
}

/** Log lines in the REST API's form. */
export function logLinesView(lines: TaskLogLine[]): { at: string; line: string }[] {
  return lines.map((l) => ({ at: iso(l.at), line: l.line }));
}
