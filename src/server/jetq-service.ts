import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { DashboardService } from "../dashboard/dashboard-service.js";
import { JetStreamDashboardStore } from "../dashboard/dashboard-store.js";
import { ConfigError, JetqError } from "../errors.js";
import type { CheckResult } from "../gateway/health-routes.js";
import { HttpGateway, type HttpGatewayParams } from "../gateway/http-server.js";
import { DependencyResolver } from "../jobs/dependencies.js";
import { DEFAULT_QUEUE } from "../jobs/queue.js";
import { QueueJanitor } from "../jobs/queue-janitor.js";
import type { SigningOptions } from "../jobs/signing.js";
import { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import type { Task } from "../jobs/task.js";
import { type RunRuleOptions, TaskEngine } from "../jobs/task-engine.js";
import { TaskScheduler } from "../jobs/task-scheduler.js";
import type { Logger } from "../logger.js";
import { JetqMetrics } from "../metrics/jetq-metrics.js";
import { MetricsServer } from "../metrics/metrics-server.js";
import { connectNats, type NatsOptions, withContext } from "../nats/connect.js";
import { NatsServerLauncher } from "../nats/nats-server-launcher.js";
import { SchedulerService } from "../scheduler/scheduler-service.js";
import { ServeHeartbeat } from "./serve-heartbeat.js";

/** Options of {@link JetqService}. */
export interface JetqServiceOptions {
  /** NATS to connect to (`natsContext` included); when no server is named an embedded nats-server is started. */
  nats: NatsOptions;
  /** Directory for the embedded server's JetStream files. @defaultValue `"./.jetq"` */
  dataDir?: string;
  /** Port of the embedded server. @defaultValue 4222 (0 picks a free port) */
  embeddedPort?: number;
  /** Subject of the Gozo protocol. @defaultValue `"gozo"` */
  subject?: string;
  /** Replicas for the streams the service creates. @defaultValue 1 */
  replicas?: number;
  /** The HTTP gateway (docs/http.md); `false` runs without it. @defaultValue `false` */
  http?: JetqHttpOptions | false;
  /** Schedules further ahead are refused. @defaultValue 10 years */
  maxFutureMs?: number;
  /** Subject patterns schedules may publish to beyond the default policy (docs/scheduler.md). @defaultValue none */
  allowTargets?: readonly string[];
  /** Serve Prometheus metrics at `http://host:port/metrics`. @defaultValue off */
  metrics?: { host: string; port: number };
  /**
   * How the service's faces run and write tasks: retry policy, discarded states and signature
   * checks for tasks taken over HTTP (the same options give a library worker the same behaviour),
   * and the key that signs what the service enqueues (REST, emq, cron, redrives, released and
   * delayed tasks). @defaultValue the library's defaults; unsigned
   */
  tasks?: RunRuleOptions & SigningOptions;
  log: Logger;
}

/** HTTP gateway settings of {@link JetqService}. */
export type JetqHttpOptions = Pick<
  HttpGatewayParams,
  "host" | "port" | "tokens" | "limits" | "nakDelayMs" | "queueDefaults" | "stopTimeoutMs" | "createQueues" | "ui"
> & {
  /**
   * When the address is already in use, log an error and run without the gateway instead of failing
   * (used for the built-in default address, not for an address the user asked for). @defaultValue false
   */
  optional?: boolean;
};

/**
 * `jetq serve`: owns the start order (embedded NATS → connection → storage → components) and a
 * graceful stop in reverse order.
 */
export class JetqService {
  private embedded?: NatsServerLauncher;
  private nc?: NatsConnection;
  private storage?: JetStreamStorage;
  private engine?: TaskEngine;
  /** The scheduler part; set once started. */
  scheduler?: SchedulerService;
  /** The HTTP gateway; set once started (unless disabled or its optional address was taken). */
  gateway?: HttpGateway;
  /** Fires named task schedules (cron) while elected. */
  taskScheduler?: TaskScheduler;
  /** Releases blocked tasks when their dependencies finish. */
  resolver?: DependencyResolver;
  /** Clears work items a server crash left behind. */
  janitor?: QueueJanitor;
  /** The metrics endpoint, when enabled. */
  metricsServer?: MetricsServer;
  /** The task index, time series and instances behind the dashboard and `jetq.api.tasks.list`. */
  dashboard?: DashboardService;
  private heartbeat?: ServeHeartbeat;

  constructor(private readonly opts: JetqServiceOptions) {}

  /** The NATS URL clients should use. */
  get natsUrl(): string {
    return this.embedded?.url ?? String(withContext(this.opts.nats).servers);
  }

  /** Starts everything; on failure stops what was started and rethrows. */
  async start(): Promise<void> {
    const { log } = this.opts;
    try {
      let nats = withContext(this.opts.nats);
      if (!nats.servers || (Array.isArray(nats.servers) && nats.servers.length === 0)) {
        this.embedded = new NatsServerLauncher({
          storeDir: join(this.opts.dataDir ?? ".jetq", "nats"),
          port: this.opts.embeddedPort ?? 4222,
        });
        await this.embedded.start().catch((err: Error) => {
          throw new ConfigError(
            "embedded_nats_failed",
            `could not start the embedded nats-server on port ${this.opts.embeddedPort ?? 4222} (use --nats-port or -a): ${err.message}`,
            { cause: err },
          );
        });
        log.info("embedded NATS started; clients connect to this URL", {
          url: this.embedded.url,
          version: this.embedded.version,
          binary: this.embedded.binary.path,
        });
        nats = { ...nats, servers: this.embedded.url };
      }
      this.nc = await connectNats({ name: "jetq-serve", ...nats });
      this.storage = await JetStreamStorage.open(this.nc, { replicas: this.opts.replicas ?? 1 }, log);
      await this.storage.prepare();
      const metrics = this.opts.metrics
        ? new JetqMetrics(this.storage, { stats: () => this.scheduler?.stats() }, { allQueues: true })
        : undefined;
      // Counts what goes through the service's storage (queue events, REST delayed tasks).
      if (metrics) this.storage.observer = metrics;
      const engine = new TaskEngine({
        ...this.opts.tasks,
        storage: this.storage,
        log: log.child({ component: "tasks" }),
        defaultQueue: DEFAULT_QUEUE,
      });
      this.engine = engine;
      this.scheduler = new SchedulerService({
        storage: this.storage,
        engine,
        log: log.child({ component: "scheduler" }),
        ...(this.opts.subject ? { subject: this.opts.subject } : {}),
        ...(this.opts.maxFutureMs ? { maxFutureMs: this.opts.maxFutureMs } : {}),
        ...(this.opts.allowTargets ? { allowTargets: this.opts.allowTargets } : {}),
        ...(metrics ? { onFire: (ms: number) => metrics.fired(ms) } : {}),
      });
      await this.scheduler.start();
      const put = (task: Task, msgId: string) => engine.enqueuer.put(task, msgId);
      this.taskScheduler = new TaskScheduler({
        storage: this.storage,
        put,
        log: log.child({ component: "task-scheduler" }),
      });
      await this.taskScheduler.start();
      this.resolver = new DependencyResolver({
        storage: this.storage,
        dependencies: engine.dependencies,
        put,
        log: log.child({ component: "dependencies" }),
      });
      await this.resolver.start();
      this.janitor = new QueueJanitor({ storage: this.storage, put, log: log.child({ component: "janitor" }) });
      this.janitor.start();
      this.dashboard = new DashboardService({
        store: new JetStreamDashboardStore({
          engine,
          ...(this.scheduler.commands ? { schedules: this.scheduler.commands } : {}),
          log: log.child({ component: "dashboard" }),
        }),
        log: log.child({ component: "dashboard" }),
      });
      await this.dashboard.start();
      if (metrics && this.opts.metrics) {
        // With HTTP tokens set, /metrics asks for the same bearer tokens.
        const tokens = this.opts.http ? (this.opts.http.tokens ?? []) : [];
        this.metricsServer = new MetricsServer({ metrics, ...this.opts.metrics, tokens, log });
        await this.metricsServer.start();
      }
      if (this.opts.http) await this.startGateway(engine, this.scheduler, this.dashboard, this.opts.http);
      const { scheduler, taskScheduler } = this;
      this.heartbeat = new ServeHeartbeat(this.nc, () => ({
        scheduler: scheduler.isLeader ? "leader" : "follower",
        task_scheduler: taskScheduler.isLeader ? "leader" : "follower",
        ...(this.gateway ? { gateway: this.gateway.url } : {}),
        dashboard: this.gateway !== undefined && this.opts.http !== false && this.opts.http?.ui?.enabled !== false,
      }));
      await this.heartbeat.start();
      log.info("jetq serve ready", { nats: this.natsUrl, ...(this.gateway ? { http: this.gateway.url } : {}) });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startGateway(
    engine: TaskEngine,
    scheduler: SchedulerService,
    dashboard: DashboardService,
    http: JetqHttpOptions,
  ): Promise<void> {
    const { optional, ...settings } = http;
    const log = this.opts.log.child({ component: "http" });
    const gateway = new HttpGateway({
      engine,
      dashboard,
      ...(scheduler.commands ? { schedules: scheduler.commands } : {}),
      log,
      readiness: async () => ({ scheduler: await this.schedulerReadiness() }),
      ...settings,
    });
    try {
      await gateway.start();
      this.gateway = gateway;
    } catch (err) {
      if (!optional || !(err instanceof JetqError) || err.code !== "http_address_in_use") throw err;
      log.error("HTTP gateway not started: its default address is in use; pass --http host:port (or --http off)", {
        error: err.message,
      });
    }
  }

  /** Ready when this instance fires schedules, or follows another instance that does. */
  private async schedulerReadiness(): Promise<CheckResult> {
    if (this.scheduler?.isLeader) return { ok: true, detail: "leader" };
    const leader = await this.storage?.leader("scheduler");
    return leader === undefined
      ? { ok: false, detail: "no scheduler is elected" }
      : { ok: true, detail: `following ${leader}` };
  }

  /** Stops components (the HTTP gateway first), drains the connection and stops the embedded server. */
  async stop(): Promise<void> {
    await this.heartbeat?.stop();
    await this.gateway
      ?.stop()
      .catch((err: Error) => this.opts.log.error("HTTP gateway stop failed", { error: err.message }));
    for (const part of [
      this.metricsServer,
      this.dashboard,
      this.janitor,
      this.resolver,
      this.taskScheduler,
      this.scheduler,
    ]) {
      await part?.stop().catch((err: Error) => this.opts.log.error("stop failed", { error: err.message }));
    }
    await this.engine?.stop();
    this.storage?.close();
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
    await this.embedded?.stop();
  }
}
