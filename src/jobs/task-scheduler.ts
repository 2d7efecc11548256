import { hostname } from "node:os";
import type { Service } from "../lifecycle.js";
import type { Logger } from "../logger.js";
import { LeaderElection } from "../nats/leader-election.js";
import { nextOccurrence, type Recurrence } from "../recurrence.js";
import { type Timer, timeoutAt } from "../timers.js";
import { type ScheduledTask, ScheduledTasks, scheduledTaskRecurrence } from "./scheduled-tasks.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { newTask, type Task } from "./task.js";

/** Parameters of {@link TaskScheduler}. */
export interface TaskSchedulerParams {
  storage: JetStreamStorage;
  /** Puts a tick's task in its queue (the enqueuer's `put`), de-duplicated by the task id. */
  put: (task: Task, msgId: string) => Promise<boolean>;
  log: Logger;
  /** Candidate name in the election. @defaultValue `<hostname>:<pid>` */
  name?: string;
  /** Leader claim lifetime. @defaultValue 3000 ms */
  electionTtlMs?: number;
  /**
   * On becoming leader, the latest tick missed by at most this is still fired (de-duplicated if the
   * previous leader fired it). @defaultValue 10_000 ms
   */
  graceMs?: number;
  /** Current time in epoch ms (ticks are due on it). @defaultValue `Date.now` */
  clock?: () => number;
}

/**
 * Creates tasks from the named schedules in the config bucket. Runs in `jetq serve` or in any
 * process; of several instances only the elected leader fires. Each tick's task id is
 * `cron:<name>:<tick ms>` and is enqueued with that de-duplication id, so a tick fired by two
 * leaders around a failover is stored once.
 */
export class TaskScheduler implements Service {
  /** The armed tick of each schedule; a tick months ahead waits in clamped steps (see timers.ts). */
  private readonly timers = new Map<string, Timer>();
  private readonly clock: () => number;
  private election?: LeaderElection;
  private watcher?: { stop(): void };
  private watching?: Promise<void>;

  constructor(private readonly p: TaskSchedulerParams) {
    this.clock = p.clock ?? Date.now;
  }

  /** Schedules armed by this instance (0 unless it leads). */
  count(): number {
    return this.timers.size;
  }

  /** True while this instance is the elected one that fires. */
  get isLeader(): boolean {
    return this.election?.isLeader ?? false;
  }

  /** The tick (epoch ms) this instance has armed for the named schedule; undefined unless it leads. */
  nextRun(name: string): number | undefined {
    return this.timers.get(name)?.due;
  }

  /** Joins the election; fires while leader. */
  async start(): Promise<void> {
    const schedules = new ScheduledTasks(await this.p.storage.configBucket());
    this.election = new LeaderElection({
      bucket: () => this.p.storage.bucket("elections", this.p.electionTtlMs ? { ttlMs: this.p.electionTtlMs } : {}),
      publish: (subject, data) => this.p.storage.bus.publish(subject, data),
      component: "task-scheduler",
      name: this.p.name ?? `${hostname()}:${process.pid}`,
      ...(this.p.electionTtlMs ? { ttlMs: this.p.electionTtlMs } : {}),
      log: this.p.log,
      onElected: () => {
        this.watching = this.follow(schedules);
      },
      onDemoted: () => this.halt(),
    });
    await this.election.start();
  }

  private async follow(schedules: ScheduledTasks): Promise<void> {
    const changes = await schedules.watch();
    this.watcher = changes;
    for await (const c of changes) {
      this.clear(c.name);
      if ("task" in c) this.arm(c.task, true);
    }
  }

  private clear(name: string): void {
    this.timers.get(name)?.clear();
    this.timers.delete(name);
  }

  private arm(st: ScheduledTask, first: boolean, after = this.clock()): void {
    if (st.paused) return;
    let rec: Recurrence;
    try {
      rec = scheduledTaskRecurrence(st);
    } catch (err) {
      this.p.log.error("ignoring an invalid scheduled task", { name: st.name, error: (err as Error).message });
      return;
    }
    const anchor = st.createdAt ?? 0;
    const now = this.clock();
    if (first) {
      // The latest tick missed within the grace period (a failover gap) fires now.
      let missed: number | undefined;
      for (
        let t = nextOccurrence(rec, now - (this.p.graceMs ?? 10_000), anchor);
        t !== undefined && t <= now;
        t = nextOccurrence(rec, t, anchor)
      ) {
        missed = t;
      }
      if (missed !== undefined) void this.fire(st, missed);
    }
    const next = nextOccurrence(rec, Math.max(after, now), anchor);
    if (next === undefined) return;
    // Runs only once the clock reaches the tick, however far ahead (a monthly tick is beyond what
    // a single Node timer can wait).
    this.timers.set(
      st.name,
      timeoutAt(
        () => {
          void this.fire(st, next);
          this.arm(st, false, next);
        },
        next,
        { clock: this.clock },
      ),
    );
  }

  private async fire(st: ScheduledTask, tick: number): Promise<void> {
    const { log } = this.p;
    try {
      const task = newTask(st.type, st.payload ?? null, {
        id: `cron:${st.name}:${tick}`,
        ...(st.deadlineMs ? { deadline: tick + st.deadlineMs } : {}),
        ...(st.maxTries ? { maxTries: st.maxTries } : {}),
      });
      task.queue = st.queue;
      task.createdAt = tick;
      const duplicate = await this.p.put(task, task.id);
      log.debug("scheduled task fired", { name: st.name, tick, task: task.id, duplicate });
    } catch (err) {
      log.error("could not create a scheduled task", { name: st.name, tick, error: (err as Error).message });
    }
  }

  private halt(): void {
    this.watcher?.stop();
    for (const name of [...this.timers.keys()]) this.clear(name);
  }

  /** Leaves the election and stops firing. */
  async stop(): Promise<void> {
    await this.election?.stop();
    this.halt();
    await this.watching?.catch(() => undefined);
  }
}
