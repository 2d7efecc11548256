/**
 * How jetq's objects look to the outside in snake_case JSON: the REST API answers with these views
 * and `jetq … --json` prints them, so the two cannot drift. The schemas are imported for their types
 * only: loading this module loads no HTTP framework.
 */
import type { z } from "@hono/zod-openapi";
import { isoTime as iso } from "../iso-time.js";
import type { DeadLetter } from "../jobs/dead-letters.js";
import { type JetqEvent, TASK_LOG_EVENT, TASK_PROGRESS_EVENT, TASK_STATE_EVENT } from "../jobs/events.js";
import type { ResolvedQueue } from "../jobs/queue.js";
import type { QueueControls } from "../jobs/queue-controls.js";
import type { ScheduledTask } from "../jobs/scheduled-tasks.js";
import type { QueueInfo } from "../jobs/storage/jetstream-storage.js";
import { QUEUE_SETTINGS, type QueueSetting, type QueueUpdateResult } from "../jobs/storage/queue-update.js";
import type { SystemInfo } from "../jobs/storage/system-info.js";
import { encodeTask } from "../jobs/storage/task-codec.js";
import type { TaskLogLine } from "../jobs/storage/task-logs.js";
import type { Task } from "../jobs/task.js";
import type {
  DeadLetterView,
  QueueConfigView,
  QueueControlsView,
  QueueInfoView,
  QueueUpdateReply,
  ScheduledTaskView,
  TaskView,
} from "./schemas.js";

const utf8 = new TextDecoder();

/** A task in its wire form (docs/storage.md). */
export function taskView(task: Task): z.infer<typeof TaskView> {
  return JSON.parse(utf8.decode(encodeTask(task)));
}

/** The snake_case field of a queue setting (`maxAgeMs` → `max_age_ms`). */
export function settingField<K extends QueueSetting>(k: K): SnakeSetting<K> {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) as SnakeSetting<K>;
}

type Snake<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Uppercase<H> ? (H extends Lowercase<H> ? H : `_${Lowercase<H>}`) : H}${Snake<T>}`
  : S;
type SnakeSetting<K extends QueueSetting> = Snake<K> & keyof z.infer<typeof QueueConfigView>;

/** A queue definition. */
export function queueView(q: ResolvedQueue): z.infer<typeof QueueConfigView> {
  const view: Record<string, unknown> = { name: q.name };
  for (const k of QUEUE_SETTINGS) view[settingField(k)] = q[k];
  return view as z.infer<typeof QueueConfigView>;
}

/** What a queue update did: the definition now, and the snake_case fields that changed. */
export function queueUpdateView(r: QueueUpdateResult): z.infer<typeof QueueUpdateReply> {
  return { config: queueView(r.queue), changed: r.changed.map(settingField) };
}

/** A queue's runtime controls. */
export function controlsView(c: QueueControls): z.infer<typeof QueueControlsView> {
  return {
    paused: c.paused !== undefined,
    ...(c.paused ? { paused_at: iso(c.paused.at) } : {}),
    ...(c.rateLimit ? { rate_limit: { limit: c.rateLimit.limit, interval_ms: c.rateLimit.intervalMs } } : {}),
    ...(c.holdUntil !== undefined && c.holdUntil > Date.now() ? { hold_until: iso(c.holdUntil) } : {}),
  };
}

/** A queue's definition, live numbers and controls. */
export function queueInfoView(info: QueueInfo): z.infer<typeof QueueInfoView> {
  return {
    name: info.name,
    config: queueView(info.config),
    depth: info.depth,
    in_flight: info.inFlight,
    pending: info.pending,
    pending_by_priority: info.pendingByPriority,
    controls: controlsView(info.controls),
    dead_letters: info.deadLetters,
  };
}

/** Log lines of a task. */
export function logLinesView(lines: TaskLogLine[]): { at: string; line: string }[] {
  return lines.map((l) => ({ at: iso(l.at), line: l.line }));
}

/** A dead letter. */
export function deadLetterView(dl: DeadLetter): z.infer<typeof DeadLetterView> {
  return { task: taskView(dl.task), reason: dl.reason, dead_at: iso(dl.deadAt), seq: dl.seq };
}

/** A named task schedule (cron or `@every`) with its next fire times. */
export function scheduledTaskView(st: ScheduledTask, nextRuns: number[]): z.infer<typeof ScheduledTaskView> {
  return {
    name: st.name,
    schedule: st.schedule,
    ...(st.tz ? { tz: st.tz } : {}),
    queue: st.queue,
    type: st.type,
    ...(st.payload !== undefined ? { payload: st.payload } : {}),
    ...(st.deadlineMs !== undefined ? { deadline_ms: st.deadlineMs } : {}),
    ...(st.maxTries !== undefined ? { max_tries: st.maxTries } : {}),
    paused: st.paused === true,
    ...(st.createdAt !== undefined ? { created: iso(st.createdAt) } : {}),
    next_runs: nextRuns.map(iso),
  };
}

/** An event in its wire form (snake_case, RFC 3339 timestamp), as jetq publishes it. */
export function eventView(e: JetqEvent): Record<string, unknown> {
  const head = { event_id: e.eventId, type: e.type, timestamp: iso(e.timestamp) };
  switch (e.type) {
    case TASK_STATE_EVENT:
      return {
        ...head,
        task_id: e.taskId,
        state: e.state,
        final: e.final,
        tries: e.tries,
        queue: e.queue,
        task_type: e.taskType,
        priority: e.priority,
        ...(e.lastError === undefined ? {} : { last_error: e.lastError }),
        task_age: e.ageMs,
      };
    case TASK_PROGRESS_EVENT:
      return { ...head, task_id: e.taskId, queue: e.queue, task_type: e.taskType, progress: e.progress };
    case TASK_LOG_EVENT:
      return { ...head, task_id: e.taskId, queue: e.queue, task_type: e.taskType, line: e.line };
    default:
      return {
        ...head,
        queue: e.queue,
        action: e.action,
        ...(e.taskId === undefined ? {} : { task_id: e.taskId }),
        ...(e.detail === undefined ? {} : { detail: e.detail }),
      };
  }
}

/** The server, account, jetq's streams and the elected leaders (`jetq info`). */
export function systemInfoView(i: SystemInfo): Record<string, unknown> {
  return {
    server: {
      name: i.server.name,
      version: i.server.version,
      ...(i.server.cluster ? { cluster: i.server.cluster } : {}),
      max_payload: i.server.maxPayload,
    },
    account: {
      storage_bytes: i.account.storageBytes,
      memory_bytes: i.account.memoryBytes,
      streams: i.account.streams,
      consumers: i.account.consumers,
      ...(i.account.apiLevel === undefined ? {} : { api_level: i.account.apiLevel }),
    },
    streams: i.streams,
    jetq_bytes: i.jetqBytes,
    leaders: i.leaders.map((l) => ({ component: l.component, leader: l.leader ?? null })),
  };
}
