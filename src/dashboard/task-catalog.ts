/**
 * Lists tasks by queue, state and type, newest first, fast at millions of retained records: the
 * index of `jetq serve` ({@link TaskIndex}), rebuilt at start from the `JETQ_TASKS` stream (record
 * headers only) and kept live from the task state events; waiting tasks come from their queue's
 * stream. See docs/dashboard.md.
 */
import { StorageError, ValidationError } from "../errors.js";
import { isValidId, validateQueueName, validateTaskType } from "../jobs/names.js";
import { type Task, TaskState } from "../jobs/task.js";
import { MAX_TASK_PAGE, type TaskListQuery } from "../jobs/task-list.js";
import type { Logger } from "../logger.js";
import type { DashboardStore, ReplayedRecord, WaitingPage } from "./dashboard-store.js";
import type { IndexStatus } from "./dashboard-views.js";
import type { TaskEventFacts } from "./task-event-reader.js";
import { TaskIndex } from "./task-index.js";

/**
 * A query of {@link TaskListing.list} (the REST `GET /v1/tasks` and `jetq.api.tasks.list`): the
 * library's own (`src/jobs/task-list.ts`), whose `listTasks` calls this API. Without `state`:
 * waiting tasks first, then every other state; `state: "new"`: waiting in the queue.
 */
export type { TaskListQuery };

/** One page of {@link TaskListing.list}. */
export interface TaskListPage {
  /** Newest first: waiting tasks by enqueue order, the others by their latest change. */
  tasks: Task[];
  /** Present when more may follow. */
  nextCursor?: string;
}

/** Lists tasks (see {@link TaskListQuery}). */
export interface TaskListing {
  /** @throws ValidationError (`invalid_state`, `invalid_limit`, `invalid_cursor`, names), StorageError (`index_building`) */
  list(q: TaskListQuery): Promise<TaskListPage>;
}

/** Tasks a list call returns when it names no limit (as `listTasks` asks). */
export const DEFAULT_TASK_PAGE = 100;

/** Parameters of {@link TaskCatalog}. */
export interface TaskCatalogParams {
  store: DashboardStore;
  log: Logger;
  /**
   * How often the whole index is checked against the stream (a headers-only re-read that also
   * drops records deleted meanwhile); 0 turns it off. @defaultValue 1 hour
   */
  reconcileIntervalMs?: number;
  /** How often aged-out records are dropped (when the stream has a max age). @defaultValue 60_000 ms */
  expireIntervalMs?: number;
  /** How long a list call waits for the first build before answering `index_building`. @defaultValue 10_000 ms */
  readyTimeoutMs?: number;
}

const WAITING = /^w\.([A-Za-z0-9_-]{1,64})\.(\d{1,16})$/;
const INDEXED = /^i\.(\d{1,16})$/;
/** Work items read at most for one page of waiting tasks filtered by type. */
const WAITING_SCAN_LIMIT = 5000;

type Cursor = { kind: "waiting"; queue: string; seq: number } | { kind: "indexed"; gen: number };

function parseCursor(c: string): Cursor {
  const w = WAITING.exec(c);
  if (w) return { kind: "waiting", queue: w[1]!, seq: Number(w[2]) };
  const i = INDEXED.exec(c);
  if (i) return { kind: "indexed", gen: Number(i[1]) };
  throw new ValidationError("invalid_cursor", "cursor is not one returned by a previous page");
}

/** Checks a query from outside. @throws ValidationError */
export function validateTaskListQuery(q: TaskListQuery): Required<Pick<TaskListQuery, "limit">> & TaskListQuery {
  if (q.queue !== undefined) validateQueueName(q.queue);
  if (q.type !== undefined) validateTaskType(q.type);
  if (q.state !== undefined && !(Object.values(TaskState) as string[]).includes(q.state))
    throw new ValidationError("invalid_state", `unknown task state ${JSON.stringify(q.state)}`);
  if (q.id !== undefined && !isValidId(q.id)) throw new ValidationError("invalid_id", "invalid task id");
  const limit = q.limit ?? DEFAULT_TASK_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TASK_PAGE)
    throw new ValidationError("invalid_limit", `limit must be an integer 1-${MAX_TASK_PAGE}, got ${limit}`);
  if (q.cursor !== undefined) parseCursor(q.cursor);
  return { ...q, limit };
}

/**
 * The task index of `jetq serve` and the listing built on it. `start()` begins the build in the
 * background; feed it the task state events with {@link TaskCatalog.taskEvent}.
 */
export class TaskCatalog implements TaskListing {
  /** The index itself (tasks in every state but `new`). */
  readonly index = new TaskIndex();
  private checkpoint = 0;
  private replayed = 0;
  private records = 0;
  private buildMs?: number;
  private building?: Promise<void>;
  private ready = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopReconnect?: () => void;
  private stopped = false;

  constructor(private readonly p: TaskCatalogParams) {}

  /** Where the build stands. */
  status(): IndexStatus {
    return {
      ready: this.ready,
      tasks: this.index.size,
      replayed: this.replayed,
      records: this.records,
      ...(this.buildMs !== undefined ? { buildMs: this.buildMs } : {}),
    };
  }

  /** Starts the first build (not awaited) and the periodic checks. */
  start(): void {
    const t0 = performance.now();
    this.building = this.rebuild().then(
      () => {
        this.ready = true;
        this.buildMs = Math.round(performance.now() - t0);
        this.p.log.info("task index built", { tasks: this.index.size, ms: this.buildMs });
      },
      (err: Error) => this.p.log.error("task index build failed; retrying at the next check", { error: err.message }),
    );
    const every = (ms: number, run: () => Promise<unknown>) => {
      if (ms <= 0) return;
      const t = setInterval(
        () => void run().catch((err: Error) => this.p.log.warn("task index check failed", { error: err.message })),
        ms,
      );
      t.unref();
      this.timers.push(t);
    };
    every(this.p.reconcileIntervalMs ?? 3_600_000, () => this.rebuild());
    every(this.p.expireIntervalMs ?? 60_000, () => this.expire());
    // Events published while the connection was down are lost: catch up from the records.
    this.stopReconnect = this.p.store.onReconnect(() => void this.catchUp().catch(() => undefined));
  }

  /** Resolves once the first build finished (for tests and benchmarks). */
  async whenReady(): Promise<void> {
    await this.building;
  }

  /** Stops the periodic checks (a build in progress finishes on its own). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.stopReconnect?.();
  }

  private applyRecord = (r: ReplayedRecord): void => {
    this.replayed++;
    if (r.head) this.index.set(r.id, r.head.queue, r.head.state, r.head.type, r.at, true);
    else this.index.remove(r.id);
  };

  /** Checks the whole index against the stream now (what the periodic check does). */
  reconcile(): Promise<void> {
    return this.rebuild();
  }

  /** Re-reads every record, then drops tasks the stream no longer has. */
  private async rebuild(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    this.replayed = 0;
    this.records = (await this.p.store.taskStreamState()).records;
    this.index.beginSweep();
    this.checkpoint = await this.p.store.replayTaskRecords(1, this.applyRecord);
    this.index.endSweep(started);
  }

  /** Reads the records written since the last replay. */
  private async catchUp(): Promise<void> {
    if (!this.ready || this.stopped) return;
    this.checkpoint = await this.p.store.replayTaskRecords(this.checkpoint + 1, this.applyRecord);
  }

  private async expire(): Promise<void> {
    const { maxAgeMs } = await this.p.store.taskStreamState();
    if (maxAgeMs > 0) this.index.expire(Date.now() - maxAgeMs);
  }

  /** Applies a task state event (cost: a map lookup and an array append). */
  taskEvent(e: TaskEventFacts): void {
    this.index.set(e.taskId, e.queue, e.state, e.taskType, e.timestamp);
  }

  /** Forgets a task at once (deleted through this process). */
  forget(id: string): void {
    this.index.remove(id);
  }

  private async indexReady(): Promise<void> {
    if (this.ready) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), this.p.readyTimeoutMs ?? 10_000);
    });
    const r = await Promise.race([this.building, late]);
    clearTimeout(timer);
    if (r === "late" || !this.ready) {
      const pct = this.records > 0 ? Math.floor((100 * this.replayed) / this.records) : 0;
      throw new StorageError("index_building", `the task index is being built (${pct}% done); try again shortly`);
    }
  }

  async list(query: TaskListQuery): Promise<TaskListPage> {
    const q = validateTaskListQuery(query);
    if (q.id !== undefined) return this.byId(q);
    const cursor = q.cursor === undefined ? undefined : parseCursor(q.cursor);
    const tasks: Task[] = [];
    if (q.state === undefined || q.state === TaskState.New) {
      if (cursor?.kind !== "indexed") {
        const page = await this.waiting(q, cursor, q.limit);
        tasks.push(...page.tasks);
        if (page.nextCursor !== undefined || q.state === TaskState.New) return page;
      }
      if (tasks.length === q.limit) return { tasks, nextCursor: `i.${this.index.lastChange + 1}` };
    }
    const rest = await this.indexed(q, cursor?.kind === "indexed" ? cursor.gen : undefined, q.limit - tasks.length);
    return { tasks: [...tasks, ...rest.tasks], ...(rest.nextCursor ? { nextCursor: rest.nextCursor } : {}) };
  }

  private async byId(q: TaskListQuery): Promise<TaskListPage> {
    const known = this.index.get(q.id!);
    const [task] = known
      ? await this.p.store.loadTasks([{ id: known.id, queue: known.queue }])
      : [await this.p.store.findTask(q.id!)];
    if (!task) return { tasks: [] };
    if (known && task.state === TaskState.New) task.state = known.state;
    const match =
      (q.queue === undefined || task.queue === q.queue) &&
      (q.type === undefined || task.type === q.type) &&
      (q.state === undefined || task.state === q.state);
    return { tasks: match ? [task] : [] };
  }

  /** Waiting tasks of one queue, or of every queue in name order. */
  private async waiting(
    q: TaskListQuery,
    cursor: Extract<Cursor, { kind: "waiting" }> | undefined,
    limit: number,
  ): Promise<TaskListPage> {
    const queues = q.queue !== undefined ? [q.queue] : await this.p.store.queueNames();
    let i = cursor ? queues.indexOf(cursor.queue) : 0;
    if (i < 0) i = queues.findIndex((name) => name > cursor!.queue);
    if (i < 0) return { tasks: [] };
    const tasks: Task[] = [];
    let before = cursor?.seq;
    for (; i < queues.length && tasks.length < limit; i++, before = undefined) {
      const queue = queues[i]!;
      const page: WaitingPage = await this.p.store
        .waitingTasks(queue, {
          ...(before !== undefined ? { beforeSeq: before } : {}),
          limit: limit - tasks.length,
          ...(q.type !== undefined ? { type: q.type } : {}),
          scanLimit: WAITING_SCAN_LIMIT,
        })
        .catch((err) => {
          // A queue deleted while listing all of them has nothing waiting.
          if (q.queue === undefined && (err as { code?: string }).code === "queue_not_found") return { tasks: [] };
          throw err;
        });
      tasks.push(...page.tasks);
      if (page.nextSeq !== undefined) return { tasks, nextCursor: `w.${queue}.${page.nextSeq}` };
    }
    if (i < queues.length) return { tasks, nextCursor: `w.${queues[i]}.${Number.MAX_SAFE_INTEGER}` };
    return { tasks };
  }

  /** Tasks in indexed states, most recently changed first, read from their records. */
  private async indexed(q: TaskListQuery, before: number | undefined, limit: number): Promise<TaskListPage> {
    await this.indexReady();
    const tasks: Task[] = [];
    let next = before;
    // Records found missing or changed are dropped from the page (and fixed in the index): refill.
    for (let round = 0; round < 5 && tasks.length < limit; round++) {
      const page = this.index.page({
        limit: limit - tasks.length,
        ...(q.queue !== undefined ? { queue: q.queue } : {}),
        ...(q.state !== undefined ? { state: q.state } : {}),
        ...(q.type !== undefined ? { type: q.type } : {}),
        ...(next !== undefined ? { before: next } : {}),
      });
      const refs = page.ids.map((id) => this.index.get(id)!);
      const loaded = await this.p.store.loadTasks(refs);
      for (let i = 0; i < refs.length; i++) {
        const ref = refs[i]!;
        const t = loaded[i];
        if (!t) {
          this.index.remove(ref.id);
          continue;
        }
        // A work item or an older record says `new`: the event the index took is newer.
        if (t.state === TaskState.New) t.state = ref.state;
        else if (t.state !== ref.state) this.index.set(t.id, t.queue, t.state, t.type, ref.updatedAt, true);
        if (q.state !== undefined && t.state !== q.state) continue;
        tasks.push(t);
      }
      next = page.next;
      if (next === undefined) break;
    }
    return { tasks, ...(next !== undefined ? { nextCursor: `i.${next}` } : {}) };
  }
}
