import { hostname } from "node:os";
import { NotFoundError } from "../errors.js";
import type { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import type { ScheduleStore } from "../jobs/storage/schedule-store.js";
import { decodeTask } from "../jobs/storage/task-codec.js";
import type { Task } from "../jobs/task.js";
import { TaskEngine } from "../jobs/task-engine.js";
import type { Service } from "../lifecycle.js";
import type { Logger } from "../logger.js";
import { LeaderElection } from "../nats/leader-election.js";
import { GozoListener } from "./gozo-listener.js";
import { ScheduleApi } from "./schedule-api.js";
import { ScheduleCommands } from "./schedule-commands.js";
import { Scheduler, type SchedulerStats } from "./scheduler.js";
import { TargetPolicy } from "./target-policy.js";

/** Parameters of {@link SchedulerService}. */
export interface SchedulerServiceParams {
  /**
   * The storage schedules live on: its connection, and the replicas and storage type the schedules
   * stream and the election bucket are created with.
   */
  storage: JetStreamStorage;
  /**
   * The task engine whose enqueuer puts delayed tasks in their queues when they come due (with
   * their `new` record and event, like every other enqueue). @defaultValue an engine of its own on
   * `storage`, without signing keys
   */
  engine?: TaskEngine;
  log: Logger;
  /** Subject of the Gozo protocol. @defaultValue `"gozo"` */
  subject?: string;
  /** Schedules further ahead are refused, and so are intervals longer than this. @defaultValue 10 years */
  maxFutureMs?: number;
  /**
   * Subject patterns schedules may publish to although they lie in a refused namespace (`$…`,
   * `jetq.…`, the Gozo subject); see docs/scheduler.md. @defaultValue none
   */
  allowTargets?: readonly string[];
  /** Leader claim lifetime; a dead leader is replaced within about this. @defaultValue 3000 ms */
  electionTtlMs?: number;
  /** Candidate name in elections. @defaultValue `<hostname>:<pid>` */
  name?: string;
  /** Called with the lateness (ms) of every fire, e.g. for metrics. */
  onFire?: (latenessMs: number) => void;
}

/** Pause between attempts to start firing after an election. */
const START_RETRY_MS = 500;

/** Room left in a message for the headers a stored schedule carries. */
const HEADER_ROOM = 8 * 1024;

/**
 * The scheduler part of `jetq serve`: Gozo listener and request API on every instance, firing on
 * the elected leader only.
 */
export class SchedulerService implements Service {
  private store?: ScheduleStore;
  private listener?: GozoListener;
  private api?: ScheduleApi;
  private election?: LeaderElection;
  private scheduler?: Scheduler;
  private leading: Promise<void> = Promise.resolve();
  /** Operations (add/get/list/cancel) for other faces such as the HTTP API; set by `start()`. */
  commands?: ScheduleCommands;

  constructor(private readonly p: SchedulerServiceParams) {}

  /** True when this instance fires schedules. */
  get isLeader(): boolean {
    return this.election?.isLeader ?? false;
  }

  /** Scheduler counters (zeros on a non-leader). */
  stats(): SchedulerStats | undefined {
    return this.scheduler?.stats();
  }

  /** Opens the stream, starts listening and joins the election. */
  async start(): Promise<void> {
    const { storage, log } = this.p;
    this.store = await storage.schedules();
    const policy = new TargetPolicy({
      gozoSubject: this.p.subject ?? "gozo",
      ...(this.p.allowTargets ? { allowTargets: this.p.allowTargets } : {}),
    });
    const limits = {
      maxFutureMs: this.p.maxFutureMs ?? 10 * 365 * 86_400_000,
      maxPayloadBytes: storage.maxPayload - HEADER_ROOM,
      policy,
    };
    this.commands = new ScheduleCommands(this.store, limits, log);
    this.listener = new GozoListener({
      bus: storage.bus,
      store: this.store,
      limits,
      log,
      ...(this.p.subject ? { subject: this.p.subject } : {}),
    });
    this.listener.start();
    this.api = new ScheduleApi(storage.bus, this.commands, log);
    const engine = this.p.engine ?? new TaskEngine({ storage, log });
    this.api.start();
    const scheduler = new Scheduler({
      store: this.store,
      log,
      policy,
      putTask: (payload, msgId) => this.putTask(engine, payload, msgId),
      ...(this.p.onFire ? { onFire: this.p.onFire } : {}),
    });
    this.scheduler = scheduler;
    this.election = new LeaderElection({
      bucket: () => storage.bucket("elections", this.p.electionTtlMs ? { ttlMs: this.p.electionTtlMs } : {}),
      publish: (subject, data) => storage.bus.publish(subject, data),
      component: "scheduler",
      name: this.p.name ?? `${hostname()}:${process.pid}`,
      ...(this.p.electionTtlMs ? { ttlMs: this.p.electionTtlMs } : {}),
      log,
      onElected: () => {
        this.leading = this.leading.then(() => this.lead(scheduler));
      },
      onDemoted: () => {
        this.leading = this.leading.then(() => scheduler.stop());
      },
    });
    await this.election.start();
    await this.leading;
  }

  /**
   * Puts a delayed task that came due in its queue through the engine's enqueuer. A task that does
   * not decode, or whose queue was deleted meanwhile, cannot run: it is logged and dropped rather
   * than retried forever.
   */
  private async putTask(engine: TaskEngine, payload: Uint8Array, msgId: string): Promise<void> {
    let task: Task;
    try {
      task = decodeTask(payload);
    } catch (err) {
      this.p.log.error("dropping a delayed task that does not decode", { msgId, error: (err as Error).message });
      return;
    }
    try {
      await engine.enqueuer.put(task, msgId);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      this.p.log.error("dropping a delayed task whose queue no longer exists", {
        task: task.id,
        queue: task.queue,
        error: err.message,
      });
    }
  }

  /**
   * Starts firing; retries while this instance leads (right after a node failure the schedules
   * stream may be electing its own leader for a few seconds).
   */
  private async lead(scheduler: Scheduler): Promise<void> {
    while (this.election?.isLeader) {
      try {
        await scheduler.start();
        return;
      } catch (err) {
        this.p.log.error("scheduler failed to start; retrying", { error: (err as Error).message });
        await scheduler.stop().catch(() => undefined);
        await new Promise((r) => setTimeout(r, START_RETRY_MS));
      }
    }
  }

  /** Waits until a leader-side start (if any) has loaded the stored schedules. */
  ready(): Promise<void> {
    return this.leading;
  }

  /** Leaves the election (handing over at once), stops listening and firing. */
  async stop(): Promise<void> {
    await this.election?.stop();
    await this.listener?.stop();
    await this.api?.stop();
    await this.leading;
    await this.scheduler?.stop();
  }
}
