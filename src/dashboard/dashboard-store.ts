/**
 * Everything the dashboard and the task index of `jetq serve` read from and do to storage, behind
 * one interface ({@link DashboardStore}). Its JetStream implementation is the only dashboard code
 * that touches NATS handles; the rest (index, time series, routes) works on this interface.
 */
import type { MsgHdrs } from "@nats-io/nats-core";
import { NotFoundError } from "../errors.js";
import type { DeadLetter, DeadLetterPage, DeadLetters, RedriveAllResult } from "../jobs/dead-letters.js";
import { isValidQueueName, isValidTaskType, validateId } from "../jobs/names.js";
import type { RateLimit } from "../jobs/queue-controls.js";
import { type ScheduledTask, ScheduledTasks } from "../jobs/scheduled-tasks.js";
import type { JetStreamStorage, QueueInfo } from "../jobs/storage/jetstream-storage.js";
import { ELECTED_COMPONENTS, RECORD_HEADERS, taskSubject } from "../jobs/storage/layout.js";
import { decodeTask } from "../jobs/storage/task-codec.js";
import type { TaskLogLine } from "../jobs/storage/task-logs.js";
import { type Task, TaskState } from "../jobs/task.js";
import type { TaskEngine } from "../jobs/task-engine.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { type ApiReply, answerRequest } from "../request-api.js";
import type { ScheduleCommands, ScheduleView } from "../scheduler/schedule-commands.js";

/** One task record met while replaying `JETQ_TASKS`. */
export interface ReplayedRecord {
  id: string;
  /** Stream sequence of the record. */
  seq: number;
  /** When the record was stored, epoch ms. */
  at: number;
  /** Absent for a tombstone (a discarded task). */
  head?: { queue: string; state: TaskState; type: string };
}

/** Numbers of the task record stream. */
export interface TaskStreamState {
  /** Records stored (one per task). */
  records: number;
  /** Sequence of the latest record written. */
  lastSeq: number;
  /** Records older than this are removed by the server (ms; 0 = kept until deleted). */
  maxAgeMs: number;
}

import type { WaitingPage, WaitingQuery } from "../jobs/storage/jetstream-storage.js";

export type { WaitingPage, WaitingQuery } from "../jobs/storage/jetstream-storage.js";

/** A change a dashboard user asks for; every one goes through {@link DashboardStore.act}. */
export type DashboardAction =
  | { action: "pause" | "resume" | "purge_queue"; queue: string }
  | { action: "set_rate_limit"; queue: string; limit: RateLimit | null }
  | { action: "cancel_task" | "retry_task" | "delete_task"; id: string }
  | { action: "redrive"; queue: string; id: string }
  | { action: "redrive_all" | "purge_dead_letters"; queue: string }
  | { action: "purge_dead_letter"; queue: string; id: string }
  | { action: "cancel_schedule"; id: string }
  | { action: "pause_cron" | "resume_cron" | "remove_cron"; name: string };

/**
 * The dashboard's access to jetq's storage. Reads are what the views and the task index need;
 * {@link act} performs every change a user can make from the dashboard.
 */
export interface DashboardStore {
  /**
   * Replays the task records stored from `fromSeq` on (headers only where records carry the
   * `Jetq-*` headers), in stream order, up to the latest at the time of the call. Resolves with the
   * sequence reached.
   */
  replayTaskRecords(fromSeq: number, each: (r: ReplayedRecord) => void): Promise<number>;
  /** Numbers of the task record stream (zeros when it does not exist yet). */
  taskStreamState(): Promise<TaskStreamState>;
  /** Tasks by id (record, else work item in the queue named), undefined for those not found. */
  loadTasks(refs: readonly { id: string; queue: string }[]): Promise<(Task | undefined)[]>;
  /** A task by id, or undefined. */
  findTask(id: string): Promise<Task | undefined>;
  /** Waiting (not yet delivered) work items of a queue, newest first. */
  waitingTasks(queue: string, q: WaitingQuery): Promise<WaitingPage>;
  /** Names of all queues. */
  queueNames(): Promise<string[]>;
  /** Definition, depth, consumers and controls of a queue. @throws NotFoundError */
  queueInfo(queue: string): Promise<QueueInfo>;
  /** Calls `each` for every core NATS message on `subject` until the returned function is called. */
  subscribe(subject: string, each: (subject: string, data: Uint8Array) => void): () => void;
  /**
   * Answers a JSON request API on `subject` (one member of `group` answers each request) until the
   * returned function is called.
   */
  answer(
    subject: string,
    group: string,
    handler: (body: Record<string, unknown>) => Promise<ApiReply>,
  ): () => Promise<void>;
  /** Calls `each` after the connection came back from an outage (messages may have been missed). */
  onReconnect(each: () => void): () => void;
  /** Current leaders by component (`scheduler`, `task-scheduler`): the candidate names. */
  leaders(): Promise<Record<string, string>>;
  /** Ids of the tasks blocked on a task. */
  dependants(id: string): Promise<string[]>;
  /** A task's log lines. */
  taskLogs(id: string): Promise<TaskLogLine[]>;
  /** A task's dead letter, or undefined. */
  deadLetter(queue: string, id: string): Promise<DeadLetter | undefined>;
  /** A page of a queue's dead letters. */
  deadLetters(queue: string, limit: number, after: number): Promise<DeadLetterPage>;
  /** Pending delayed messages (and delayed tasks' schedules); undefined when no scheduler runs here. */
  schedules(limit: number, after: number): Promise<{ schedules: ScheduleView[]; next?: number } | undefined>;
  /** Named task schedules (cron). */
  cronSchedules(): Promise<ScheduledTask[]>;
  /** Performs a change; resolves with what the underlying operation answered. */
  act(a: DashboardAction): Promise<unknown>;
}

/** What {@link JetStreamDashboardStore} is built on. */
export interface JetStreamDashboardStoreParams {
  /** The task engine of `jetq serve` (its storage, dead letters, controls, cancel and retry). */
  engine: TaskEngine;
  /** The scheduler's operations, when a scheduler runs in this process. */
  schedules?: ScheduleCommands;
  log: Logger;
}

/** Record fetches in flight at once during a replay of records without headers. */
const REPLAY_FETCH_WINDOW = 256;

const STATES = new Set<string>(Object.values(TaskState));

/** {@link DashboardStore} on jetq's JetStream layout (docs/storage.md). */
export class JetStreamDashboardStore implements DashboardStore {
  private readonly storage: JetStreamStorage;
  private readonly dead: DeadLetters;
  private readonly bad: RateLimitedLog;

  constructor(private readonly p: JetStreamDashboardStoreParams) {
    this.storage = p.engine.storage;
    this.dead = p.engine.deadLetters;
    this.bad = new RateLimitedLog(p.log);
  }

  async taskStreamState(): Promise<TaskStreamState> {
    return this.storage.taskStreamState();
  }

  /** The queue, state and type in a record's headers, if it has valid ones. */
  private headOf(h: MsgHdrs | undefined): ReplayedRecord["head"] | undefined {
    const queue = h?.get(RECORD_HEADERS.queue) ?? "";
    const state = h?.get(RECORD_HEADERS.state) ?? "";
    const type = h?.get(RECORD_HEADERS.type) ?? "";
    if (!STATES.has(state) || !isValidQueueName(queue) || !isValidTaskType(type)) return undefined;
    return { queue, state: state as TaskState, type };
  }

  /** A record whose headers do not say its state: read its body (undefined when it was replaced meanwhile). */
  private async fetchHead(seq: number, id: string, at: number): Promise<ReplayedRecord | undefined> {
    const m = await this.storage.recordAt(seq);
    if (!m) return undefined;
    if (m.data.byteLength === 0) return { id, seq, at };
    try {
      const t = decodeTask(m.data);
      return { id, seq, at, head: { queue: t.queue, state: t.state, type: t.type } };
    } catch (err) {
      this.bad.warn("corrupt_record", "skipping a corrupt task record", { seq, error: (err as Error).message });
      return undefined;
    }
  }

  async replayTaskRecords(fromSeq: number, each: (r: ReplayedRecord) => void): Promise<number> {
    const state = await this.taskStreamState();
    const target = state.lastSeq;
    if (state.records === 0 || target < fromSeq) return target;
    const prefix = taskSubject("").length;
    const messages = await this.storage.followRecordHeaders(fromSeq);
    // Records without headers need their body read; `pending` keeps stream order meanwhile.
    const pending: (ReplayedRecord | Promise<ReplayedRecord | undefined> | undefined)[] = [];
    let fetching = 0;
    const drain = async (all: boolean) => {
      while (pending.length > 0 && (all || fetching >= REPLAY_FETCH_WINDOW || !(pending[0] instanceof Promise))) {
        const first = pending.shift();
        if (first instanceof Promise) fetching--;
        const r = await first;
        if (r) each(r);
      }
    };
    try {
      for await (const m of messages) {
        const id = m.subject.slice(prefix);
        const at = Math.floor(m.info.timestampNanos / 1e6);
        if (m.headers?.get("Nats-Msg-Size") === "0") pending.push({ id, seq: m.seq, at });
        else {
          const head = this.headOf(m.headers);
          if (head) pending.push({ id, seq: m.seq, at, head });
          else {
            pending.push(this.fetchHead(m.seq, id, at));
            fetching++;
          }
        }
        await drain(false);
        if (m.seq >= target || m.info.pending === 0) break;
      }
      await drain(true);
    } finally {
      await messages.close().catch(() => undefined);
    }
    return target;
  }

  async loadTasks(refs: readonly { id: string; queue: string }[]): Promise<(Task | undefined)[]> {
    return Promise.all(
      refs.map(async ({ id, queue }) => {
        const rec = await this.storage.loadRecord(id);
        if (rec) return rec;
        if (rec === null) return undefined;
        return this.storage.findWorkItem(id, queue, true);
      }),
    );
  }

  async findTask(id: string): Promise<Task | undefined> {
    try {
      return await this.storage.loadTask(validateId(id));
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  waitingTasks(queue: string, q: WaitingQuery): Promise<WaitingPage> {
    return this.storage.waitingTasks(queue, q);
  }

  queueNames(): Promise<string[]> {
    return this.storage.queueNames();
  }

  queueInfo(queue: string): Promise<QueueInfo> {
    return this.storage.queueInfo(queue);
  }

  subscribe(subject: string, each: (subject: string, data: Uint8Array) => void): () => void {
    const sub = this.storage.bus.subscribe(subject, (m) => each(m.subject, m.data));
    return () => sub.unsubscribe();
  }

  answer(
    subject: string,
    group: string,
    handler: (body: Record<string, unknown>) => Promise<ApiReply>,
  ): () => Promise<void> {
    return this.storage.bus.serve(subject, group, (m) => answerRequest(m, handler, this.p.log));
  }

  onReconnect(each: () => void): () => void {
    return this.storage.bus.onConnectionEvent((e) => {
      if (e === "reconnect") each();
    });
  }

  async leaders(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const component of ELECTED_COMPONENTS) {
      const name = await this.storage.leader(component);
      if (name !== undefined) out[component] = name;
    }
    return out;
  }

  async dependants(id: string): Promise<string[]> {
    return (await this.p.engine.dependencies.dependantsOf(validateId(id))).map((d) => d.id).sort();
  }

  taskLogs(id: string): Promise<TaskLogLine[]> {
    return this.storage.logs.read(validateId(id));
  }

  async deadLetter(queue: string, id: string): Promise<DeadLetter | undefined> {
    try {
      return await this.dead.get(queue, id);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  deadLetters(queue: string, limit: number, after: number): Promise<DeadLetterPage> {
    return this.dead.list(queue, { limit, after });
  }

  async schedules(limit: number, after: number): Promise<{ schedules: ScheduleView[]; next?: number } | undefined> {
    return this.p.schedules?.list(limit, after);
  }

  async cronSchedules(): Promise<ScheduledTask[]> {
    return new ScheduledTasks(await this.storage.configBucket()).list();
  }

  async act(a: DashboardAction): Promise<unknown> {
    const { storage } = this;
    const { engine } = this.p;
    const controls = () => engine.controls();
    const cron = async () => new ScheduledTasks(await storage.configBucket());
    switch (a.action) {
      case "pause":
        return (await controls()).pause(a.queue);
      case "resume":
        return (await controls()).resume(a.queue);
      case "set_rate_limit":
        return (await controls()).setRateLimit(a.queue, a.limit);
      case "purge_queue":
        return { purged: await storage.purgeQueue(a.queue) };
      case "cancel_task":
        return engine.cancelTask(validateId(a.id));
      case "retry_task":
        return engine.retryTask(validateId(a.id));
      case "delete_task":
        await storage.deleteTask(validateId(a.id));
        return { id: a.id };
      case "redrive":
        return this.dead.redrive(a.queue, a.id);
      case "redrive_all":
        return this.dead.redriveAll(a.queue) satisfies Promise<RedriveAllResult>;
      case "purge_dead_letters":
        return { purged: await this.dead.purge(a.queue) };
      case "purge_dead_letter":
        return { purged: await this.dead.purge(a.queue, a.id) };
      case "cancel_schedule":
        if (!this.p.schedules) throw new NotFoundError("scheduler_unavailable", "no scheduler runs in this process");
        await this.p.schedules.cancel(a.id);
        return { id: a.id };
      case "pause_cron":
      case "resume_cron":
        return (await cron()).setPaused(a.name, a.action === "pause_cron");
      case "remove_cron":
        await (await cron()).remove(a.name);
        return { name: a.name };
    }
  }
}
