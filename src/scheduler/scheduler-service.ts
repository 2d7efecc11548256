import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../logger.js";
import { LeaderElection } from "../nats/leader-election.js";
import { GozoListener } from "./gozo-listener.js";
import { ScheduleApi } from "./schedule-api.js";
import { ScheduleCommands } from "./schedule-commands.js";
import { ScheduleStore } from "./schedule-store.js";
import { Scheduler, type SchedulerStats } from "./scheduler.js";
import { TargetPolicy } from "./target-policy.js";

/** Parameters of {@link SchedulerService}. */
export interface SchedulerServiceParams {
  nc: NatsConnection;
  log: Logger;
  /** Subject of the Gozo protocol. @defaultValue `"gozo"` */
  subject?: string;
  /** Replicas of the schedules stream and election bucket. @defaultValue 1 */
  replicas?: number;
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
export class SchedulerService {
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
    const { nc, log } = this.p;
    this.store = await ScheduleStore.open(nc, { replicas: this.p.replicas ?? 1 });
    const policy = new TargetPolicy({
      gozoSubject: this.p.subject ?? "gozo",
      ...(this.p.allowTargets ? { allowTargets: this.p.allowTargets } : {}),
    });
    const limits = {
      maxFutureMs: this.p.maxFutureMs ?? 10 * 365 * 86_400_000,
      maxPayloadBytes: (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM,
      policy,
    };
    this.commands = new ScheduleCommands(this.store, limits, log);
    this.listener = new GozoListener({
      nc,
      store: this.store,
      limits,
      log,
      ...(this.p.subject ? { subject: this.p.subject } : {}),
    });
    this.listener.start();
    this.api = new ScheduleApi(nc, this.commands, log);
    this.api.start();
    const scheduler = new Scheduler({
      store: this.store,
      log,
      policy,
      ...(this.p.onFire ? { onFire: this.p.onFire } : {}),
    });
    this.scheduler = scheduler;
    this.election = new LeaderElection({
      nc,
      component: "scheduler",
      name: this.p.name ?? `${hostname()}:${process.pid}`,
      ...(this.p.electionTtlMs ? { ttlMs: this.p.electionTtlMs } : {}),
      replicas: this.p.replicas ?? 1,
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
    this.store?.close();
  }
}
