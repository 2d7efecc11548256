/**
 * The data side of the `jetq serve` dashboard: follows every jetq event and heartbeat once, keeps
 * the task index ({@link TaskCatalog}), the per-queue time series ({@link QueueSeries}) and the
 * instances ({@link Instances}) current, builds the views the dashboard shows, performs its
 * actions, and fans live updates out to its viewers. Storage is reached only through a
 * {@link DashboardStore}.
 */
import { NotFoundError, ValidationError } from "../errors.js";
import { type JetqEvent, parseEvent, TASK_STATE_EVENT } from "../jobs/events.js";
import type { ResolvedQueue } from "../jobs/queue.js";
import { scheduledTaskRecurrence } from "../jobs/scheduled-tasks.js";
import type { QueueInfo } from "../jobs/storage/jetstream-storage.js";
import { delayedTaskScheduleId, HEARTBEAT_WILDCARD } from "../jobs/storage/layout.js";
import { isFinalState, type Task, TaskState } from "../jobs/task.js";
import type { Service } from "../lifecycle.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { nextOccurrence, previousOccurrence } from "../recurrence.js";
import type { DashboardAction, DashboardStore } from "./dashboard-store.js";
import type {
  LiveUpdate,
  OverviewView,
  QueueCounts,
  QueueRow,
  QueueView,
  SeriesPoint,
  SeriesView,
  WorkersView,
} from "./dashboard-views.js";
import { Instances } from "./instances.js";
import { ALL_QUEUES, QueueSeries } from "./queue-series.js";
import { TaskCatalog } from "./task-catalog.js";
import { readTaskEvent, type TaskEventFacts } from "./task-event-reader.js";
import { serveTaskListApi, taskWire } from "./task-list-api.js";

/** Subjects of every jetq event (task states, progress, logs, queue events, leader changes). */
const EVENTS_WILDCARD = "jetq.ev.>";

/** What a viewer follows beyond the ticks: the events of a queue or of a task. */
export interface LiveFilter {
  queue?: string;
  task?: string;
}

/** Parameters of {@link DashboardService}. */
export interface DashboardServiceParams {
  store: DashboardStore;
  log: Logger;
  /** See {@link TaskCatalog}. @defaultValue 1 hour */
  reconcileIntervalMs?: number;
  /** Seconds of time series kept per queue. @defaultValue 3600 */
  seriesSeconds?: number;
  /** How long queue numbers (consumer info) are reused between ticks. @defaultValue 1500 ms */
  queueInfoTtlMs?: number;
}

/** Most tasks one bulk call handles. */
export const MAX_BULK = 500;

const FAILED_TRY_STATES = new Set<string>([TaskState.Retry, TaskState.Expired, TaskState.Terminated]);
const INDEXED_COUNTS = [
  "active",
  "retry",
  "delayed",
  "blocked",
  "complete",
  "expired",
  "terminated",
  "unreachable",
  "cancelled",
] as const;

interface Viewer {
  filter: LiveFilter;
  send: (u: LiveUpdate) => void;
}

/** See the module comment. */
export class DashboardService implements Service {
  readonly catalog: TaskCatalog;
  readonly series: QueueSeries;
  readonly instances = new Instances();
  private readonly store: DashboardStore;
  private readonly bad: RateLimitedLog;
  private readonly viewers = new Set<Viewer>();
  private readonly infos = new Map<string, { at: number; info: Promise<QueueInfo> }>();
  private readonly unsubscribe: (() => void)[] = [];
  private stopApi?: () => Promise<void>;
  private ticker?: NodeJS.Timeout;
  private pruner?: NodeJS.Timeout;
  private ticking = false;

  constructor(private readonly p: DashboardServiceParams) {
    this.store = p.store;
    this.bad = new RateLimitedLog(p.log);
    this.catalog = new TaskCatalog({
      store: p.store,
      log: p.log,
      ...(p.reconcileIntervalMs !== undefined ? { reconcileIntervalMs: p.reconcileIntervalMs } : {}),
    });
    this.series = new QueueSeries({ seconds: p.seriesSeconds ?? 3600 });
  }

  /** Follows events and heartbeats, starts building the index and answers `jetq.api.tasks.list`. */
  async start(): Promise<void> {
    this.unsubscribe.push(this.store.subscribe(EVENTS_WILDCARD, (s, d) => this.onEvent(s, d)));
    this.unsubscribe.push(
      this.store.subscribe(HEARTBEAT_WILDCARD, (s, d) => {
        if (!this.instances.heartbeat(s, d))
          this.bad.warn("bad_heartbeat", "ignoring a malformed heartbeat", { subject: s });
      }),
    );
    this.catalog.start();
    this.stopApi = serveTaskListApi(this.store, this.catalog);
    this.pruner = setInterval(() => this.series.prune(), 60_000);
    this.pruner.unref();
  }

  /** Stops following and answering; viewers are dropped. */
  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    this.catalog.stop();
    clearInterval(this.ticker);
    clearInterval(this.pruner);
    this.ticker = undefined;
    this.viewers.clear();
    await this.stopApi?.();
  }

  private onEvent(subject: string, data: Uint8Array): void {
    let task: TaskEventFacts | undefined;
    try {
      task = readTaskEvent(subject, data);
    } catch (err) {
      this.bad.warn("bad_event", "ignoring an invalid task event", { subject, error: (err as Error).message });
      return;
    }
    if (task) this.taskEvent(task);
    if (this.viewers.size === 0) return;
    // Viewers of this queue or task (rare) get the event in full; the ticks carry the rest.
    const wanted = [...this.viewers].filter((v) => this.wants(v.filter, subject, task));
    if (wanted.length === 0) return;
    let e: JetqEvent;
    try {
      e = parseEvent(data);
    } catch (err) {
      // Leader announcements share the prefix and are not jetq events.
      if (!subject.startsWith("jetq.ev.leader."))
        this.bad.warn("bad_event", "ignoring an invalid event", { subject, error: (err as Error).message });
      return;
    }
    if (e.type === "jetq.v1.queue") this.infos.delete(e.queue);
    const taskId = "taskId" in e ? e.taskId : undefined;
    for (const v of wanted)
      if (v.filter.task === undefined || v.filter.task === taskId) v.send({ kind: "event", data: eventView(e) });
  }

  /** Whether a viewer follows an event: its task's, its queue's (queue events for everyone else). */
  private wants(f: LiveFilter, subject: string, task: TaskEventFacts | undefined): boolean {
    if (f.task !== undefined) return task === undefined || task.taskId === f.task;
    const queue = task?.queue ?? subject.split(".")[3];
    if (f.queue !== undefined) return queue === f.queue;
    return subject.startsWith("jetq.ev.queue.");
  }

  private taskEvent(e: TaskEventFacts): void {
    const kind =
      e.state === TaskState.New || e.state === TaskState.Delayed
        ? "enqueued"
        : e.state === TaskState.Active
          ? "started"
          : e.state === TaskState.Complete
            ? "completed"
            : FAILED_TRY_STATES.has(e.state)
              ? "failed"
              : undefined;
    if (kind) {
      // Enqueue→start latency: first tries only, and not for tasks that waited for a time or for others.
      let latency: number | undefined;
      if (kind === "started" && e.tries === 1) {
        const before = this.catalog.index.get(e.taskId)?.state;
        if (before !== TaskState.Delayed && before !== TaskState.Blocked) latency = e.ageMs;
      }
      this.series.record(e.queue, kind, e.timestamp, latency);
    }
    this.catalog.taskEvent(e);
  }

  private queueInfo(name: string): Promise<QueueInfo> {
    const now = Date.now();
    const cached = this.infos.get(name);
    if (cached && now - cached.at < (this.p.queueInfoTtlMs ?? 1500)) return cached.info;
    const info = this.store.queueInfo(name);
    this.infos.set(name, { at: now, info });
    info.catch(() => this.infos.delete(name));
    return info;
  }

  /** One queue's row: counts from the index and from its consumers, controls, rates. */
  private async row(name: string, counts: Partial<Record<TaskState, number>>): Promise<QueueRow> {
    const row: QueueRow = {
      name,
      paused: false,
      counts: {
        waiting: 0,
        waiting_by_priority: [],
        in_flight: 0,
        ...Object.fromEntries(INDEXED_COUNTS.map((s) => [s, counts[s] ?? 0])),
        dead_letters: 0,
      } as unknown as QueueCounts,
      rates: this.series.rates(name),
    };
    try {
      const info = await this.queueInfo(name);
      row.counts.waiting = info.pending;
      row.counts.waiting_by_priority = info.pendingByPriority;
      row.counts.in_flight = info.inFlight;
      row.counts.dead_letters = info.deadLetters;
      row.paused = info.controls.paused !== undefined;
      if (info.controls.rateLimit)
        row.rate_limit = { limit: info.controls.rateLimit.limit, interval_ms: info.controls.rateLimit.intervalMs };
      if (info.controls.holdUntil !== undefined && info.controls.holdUntil > Date.now())
        row.hold_until = info.controls.holdUntil;
    } catch (err) {
      row.error = (err as Error).message;
    }
    return row;
  }

  /** Every queue with its counts, controls and rates. */
  async overview(): Promise<OverviewView> {
    const names = await this.store.queueNames();
    for (const q of this.infos.keys()) if (!names.includes(q)) this.infos.delete(q); // deleted queues
    const counts = this.catalog.index.counts();
    const queues = await Promise.all(names.map((name) => this.row(name, counts.get(name) ?? {})));
    return { at: Date.now(), index: this.catalog.status(), queues, rates: this.series.rates(ALL_QUEUES) };
  }

  /**
   * A queue: its row, its definition (the route shows it as the REST API does), the task types
   * seen, its consumers. @throws NotFoundError
   */
  async queue(name: string): Promise<Omit<QueueView, "config"> & { definition: ResolvedQueue }> {
    const info = await this.store.queueInfo(name);
    this.infos.set(name, { at: Date.now(), info: Promise.resolve(info) });
    const row = await this.row(name, this.catalog.index.counts().get(name) ?? {});
    return {
      ...row,
      definition: info.config,
      types: this.catalog.index.typesOf(name),
      consumers: info.consumers.map((c) => ({
        name: c.name,
        pending: c.num_pending,
        in_flight: c.num_ack_pending,
        waiting_pulls: c.num_waiting,
        redelivered: c.num_redelivered,
      })),
    };
  }

  /** The last hour of a queue's (or every queue's) series. */
  seriesOf(queue?: string): SeriesView {
    return this.series.view(queue ?? ALL_QUEUES);
  }

  /** A task with its logs, dependants, dead letter and what the index knows. @throws NotFoundError */
  async task(id: string): Promise<Record<string, unknown>> {
    const known = this.catalog.index.get(id);
    const [task] = known ? await this.store.loadTasks([known]) : [await this.store.findTask(id)];
    if (!task) {
      if (known) this.catalog.forget(id);
      throw new NotFoundError("task_not_found", `task ${id} not found`);
    }
    if (task.state === TaskState.New && known) task.state = known.state;
    const [logs, dependants, dead] = await Promise.all([
      this.store.taskLogs(id),
      this.store.dependants(id),
      this.store.deadLetter(task.queue, id).catch(() => undefined),
    ]);
    return {
      task: taskWire(task),
      logs: logs.map((l) => ({ at: l.at, line: l.line })),
      dependants,
      ...(dead ? { dead_letter: { reason: dead.reason, dead_at: dead.deadAt } } : {}),
      signed: task.signature !== undefined,
      ...(known ? { index: { state: known.state, updated_at: known.updatedAt } } : {}),
    };
  }

  /** A page of a queue's dead letters. */
  async deadLetters(queue: string, limit: number, after: number): Promise<Record<string, unknown>> {
    const page = await this.store.deadLetters(queue, limit, after);
    return {
      dead_letters: page.deadLetters.map((d) => ({
        task: taskWire(d.task),
        reason: d.reason,
        dead_at: d.deadAt,
        seq: d.seq,
      })),
      ...(page.next !== undefined ? { next: page.next } : {}),
    };
  }

  /** Delayed messages, delayed tasks, cron task schedules and the elected leaders. */
  async schedules(limit: number, after: number): Promise<Record<string, unknown>> {
    const [page, crons, leaders] = await Promise.all([
      this.store.schedules(limit, after),
      this.store.cronSchedules(),
      this.store.leaders(),
    ]);
    const taskPrefix = delayedTaskScheduleId("");
    const messages = (page?.schedules ?? []).filter((s) => !s.id.startsWith(taskPrefix));
    const delayed = (page?.schedules ?? [])
      .filter((s) => s.id.startsWith(taskPrefix))
      .map((s) => ({ task_id: s.id.slice(taskPrefix.length), due_ms: s.due_ms, subject: s.subject }));
    const now = Date.now();
    const cron = await Promise.all(
      crons.map(async (st) => {
        const r = scheduledTaskRecurrence(st);
        const anchor = st.createdAt ?? 0;
        const next: number[] = [];
        for (
          let t = nextOccurrence(r, now, anchor);
          t !== undefined && next.length < 3;
          t = nextOccurrence(r, t, anchor)
        )
          next.push(t);
        const last = previousOccurrence(r, now + 1, anchor);
        const lastTask =
          last !== undefined ? await this.store.findTask(`cron:${st.name}:${last}`).catch(() => undefined) : undefined;
        return {
          ...st,
          next_runs: next,
          ...(last !== undefined ? { last_tick: last } : {}),
          ...(lastTask ? { last_task: { id: lastTask.id, state: lastTask.state } } : {}),
        };
      }),
    );
    return {
      scheduler: page !== undefined,
      leaders,
      messages,
      delayed_tasks: delayed,
      cron,
      ...(page?.next !== undefined ? { next: page.next } : {}),
    };
  }

  /** Workers and `jetq serve` instances heard from, and each queue's consumers. */
  async workers(): Promise<WorkersView> {
    return { ...this.instances.list(), leaders: await this.store.leaders() };
  }

  /** Performs a user's action (see {@link DashboardAction}). */
  async act(a: DashboardAction): Promise<unknown> {
    const r = await this.store.act(a);
    if (a.action === "delete_task") this.catalog.forget(a.id);
    if ("queue" in a) this.infos.delete(a.queue);
    return r;
  }

  /**
   * One step of a bulk action on the tasks of a queue in a state: up to `limit` of them retried
   * (redriven when they have a dead letter), cancelled or deleted. Call again while `more`.
   * @throws ValidationError (`invalid_request`) for an action that does not apply to the state
   */
  async bulk(
    queue: string,
    op: "retry" | "cancel" | "delete",
    state: TaskState,
    limit: number,
  ): Promise<{ done: number; failed: number; errors: string[]; more: boolean }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BULK)
      throw new ValidationError("invalid_request", `limit must be an integer 1-${MAX_BULK}`);
    // Retry and delete apply to finished tasks only (a running one still has its worker); cancel to unfinished ones.
    const allowed = op === "cancel" ? !isFinalState(state) : isFinalState(state);
    if (!allowed)
      throw new ValidationError(
        "invalid_request",
        `cannot ${op} the ${state} tasks of a queue${state === TaskState.New && op !== "cancel" ? " (purge the queue instead)" : ""}`,
      );
    const page = await this.catalog.list({ queue, state, limit });
    let done = 0;
    const errors: string[] = [];
    for (const t of page.tasks) {
      try {
        await this.bulkOne(t, op);
        done++;
      } catch (err) {
        errors.push(`${t.id}: ${(err as Error).message}`);
      }
    }
    this.infos.delete(queue);
    return { done, failed: errors.length, errors: errors.slice(0, 5), more: page.nextCursor !== undefined && done > 0 };
  }

  private async bulkOne(t: Task, op: "retry" | "cancel" | "delete"): Promise<void> {
    if (op === "cancel") await this.store.act({ action: "cancel_task", id: t.id });
    else if (op === "delete") await this.act({ action: "delete_task", id: t.id });
    else if (await this.store.deadLetter(t.queue, t.id))
      await this.store.act({ action: "redrive", queue: t.queue, id: t.id });
    else await this.store.act({ action: "retry_task", id: t.id });
  }

  /**
   * Sends `send` a tick every second (overview and the newest second of every series) and the
   * events `filter` asks for, until the returned function is called.
   */
  follow(filter: LiveFilter, send: (u: LiveUpdate) => void): () => void {
    const v: Viewer = { filter, send };
    this.viewers.add(v);
    if (!this.ticker) {
      this.ticker = setInterval(() => void this.tick(), 1000);
      this.ticker.unref();
    }
    return () => {
      this.viewers.delete(v);
      if (this.viewers.size === 0) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    };
  }

  private async tick(): Promise<void> {
    if (this.ticking) return; // a slow storage: skip a beat rather than pile up
    this.ticking = true;
    try {
      const overview = await this.overview();
      const points: Record<string, SeriesPoint> = {};
      for (const q of [ALL_QUEUES, ...this.series.queues()]) {
        const s = this.series.view(q, 1);
        points[q] = {
          t: s.start,
          enqueued: s.enqueued[0]!,
          started: s.started[0]!,
          completed: s.completed[0]!,
          failed: s.failed[0]!,
          p50: s.p50[0]!,
          p99: s.p99[0]!,
        };
      }
      for (const v of this.viewers) v.send({ kind: "tick", data: { overview, points } });
    } catch (err) {
      this.bad.warn("tick_failed", "dashboard update failed", { error: (err as Error).message });
    } finally {
      this.ticking = false;
    }
  }
}

/** An event in its wire form (snake_case), for viewers. */
function eventView(e: JetqEvent): Record<string, unknown> {
  const base = { type: e.type, timestamp: e.timestamp };
  switch (e.type) {
    case TASK_STATE_EVENT:
      return {
        ...base,
        task_id: e.taskId,
        queue: e.queue,
        state: e.state,
        tries: e.tries,
        task_type: e.taskType,
        ...(e.lastError ? { last_error: e.lastError } : {}),
      };
    case "jetq.v1.task_progress":
      return { ...base, task_id: e.taskId, queue: e.queue, progress: e.progress };
    case "jetq.v1.task_log":
      return { ...base, task_id: e.taskId, queue: e.queue, line: e.line };
    default:
      return {
        ...base,
        queue: e.queue,
        action: e.action,
        ...(e.taskId ? { task_id: e.taskId } : {}),
        ...(e.detail ? { detail: e.detail } : {}),
      };
  }
}
