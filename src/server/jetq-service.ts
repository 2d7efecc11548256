import { join } from "node:path";
import { DashboardService } from "../dashboard/dashboard-service.js";
import { JetStreamDashboardStore } from "../dashboard/dashboard-store.js";
import { ConfigError, JetqError, StateError } from "../errors.js";
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
import { ServiceGroup } from "../lifecycle.js";
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
  private storage?: JetStreamStorage;
  /** What runs, stopped in reverse order; set while started. */
  private parts?: ServiceGroup;
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

  constructor(private readonly opts: JetqServiceOptions) {}

  /** The NATS URL clients should use. */
  get natsUrl(): string {
    return this.embedded?.url ?? String(withContext(this.opts.nats).servers);
  }

  /**
   * Starts everything, in order; on failure stops what was started and rethrows.
   * @throws StateError (`already_started`) while it runs
   */
  async start(): Promise<void> {
    if (this.parts) throw new StateError("already_started", "jetq serve is already running");
    const { log } = this.opts;
    const parts = new ServiceGroup(log);
    this.parts = parts;
    try {
      let nats = withContext(this.opts.nats);
      if (!nats.servers || (Array.isArray(nats.servers) && nats.servers.length === 0)) {
        const embedded = new NatsServerLauncher({
          storeDir: join(this.opts.dataDir ?? ".jetq", "nats"),
          port: this.opts.embeddedPort ?? 4222,
        });
        this.embedded = embedded;
        await parts
          .add("embedded NATS", { start: () => embedded.start().then(() => undefined), stop: () => embedded.stop() })
          .catch((err: Error) => {
            throw new ConfigError(
              "embedded_nats_failed",
              `could not start the embedded nats-server on port ${this.opts.embeddedPort ?? 4222} (use --nats-port or -a): ${err.message}`,
              { cause: err },
            );
          });
        log.info("embedded NATS started; clients connect to this URL", {
          url: embedded.url,
          version: embedded.version,
          binary: embedded.binary.path,
        });
        nats = { ...nats, servers: embedded.url };
      }
      const nc = await connectNats({ name: "jetq-serve", ...nats });
      parts.adopt("NATS connection", () => (nc.isClosed() ? undefined : nc.drain().catch(() => undefined)));
      const storage = await JetStreamStorage.open(nc, { replicas: this.opts.replicas ?? 1 }, log);
      this.storage = storage;
      parts.adopt("storage", () => storage.close());
      await storage.prepare();
      const metrics = this.opts.metrics
        ? new JetqMetrics(storage, { stats: () => this.scheduler?.stats() }, { allQueues: true })
        : undefined;
      // Counts what goes through the service's storage (queue events, REST delayed tasks).
      if (metrics) storage.observer = metrics;
      const engine = new TaskEngine({
        ...this.opts.tasks,
        storage,
        log: log.child({ component: "tasks" }),
        defaultQueue: DEFAULT_QUEUE,
      });
      parts.adopt("task engine", () => engine.stop());
      const scheduler = await parts.add(
        "scheduler",
        new SchedulerService({
          storage,
          engine,
          log: log.child({ component: "scheduler" }),
          ...(this.opts.subject ? { subject: this.opts.subject } : {}),
          ...(this.opts.maxFutureMs ? { maxFutureMs: this.opts.maxFutureMs } : {}),
          ...(this.opts.allowTargets ? { allowTargets: this.opts.allowTargets } : {}),
          ...(metrics ? { onFire: (ms: number) => metrics.fired(ms) } : {}),
        }),
      );
      this.scheduler = scheduler;
      const put = (task: Task, msgId: string) => engine.enqueuer.put(task, msgId);
      const taskScheduler = await parts.add(
        "task scheduler",
        new TaskScheduler({ storage, put, log: log.child({ component: "task-scheduler" }) }),
      );
      this.taskScheduler = taskScheduler;
      this.resolver = await parts.add(
        "dependency resolver",
        new DependencyResolver({
          storage,
          dependencies: engine.dependencies,
          put,
          log: log.child({ component: "dependencies" }),
        }),
      );
      this.janitor = await parts.add(
        "janitor",
        new QueueJanitor({ storage, put, log: log.child({ component: "janitor" }) }),
      );
      const dashboard = await parts.add(
        "dashboard",
        new DashboardService({
          store: new JetStreamDashboardStore({
            engine,
            ...(scheduler.commands ? { schedules: scheduler.commands } : {}),
            log: log.child({ component: "dashboard" }),
          }),
          log: log.child({ component: "dashboard" }),
        }),
      );
      this.dashboard = dashboard;
      if (metrics && this.opts.metrics) {
        // With HTTP tokens set, /metrics asks for the same bearer tokens.
        const tokens = this.opts.http ? (this.opts.http.tokens ?? []) : [];
        this.metricsServer = await parts.add(
          "metrics endpoint",
          new MetricsServer({ metrics, ...this.opts.metrics, tokens, log }),
        );
      }
      if (this.opts.http) await this.startGateway(parts, engine, scheduler, dashboard, this.opts.http);
      await parts.add(
        "heartbeat",
        new ServeHeartbeat(storage.bus, () => ({
          scheduler: scheduler.isLeader ? "leader" : "follower",
          task_scheduler: taskScheduler.isLeader ? "leader" : "follower",
          ...(this.gateway ? { gateway: this.gateway.url } : {}),
          dashboard: this.gateway !== undefined && this.opts.http !== false && this.opts.http?.ui?.enabled !== false,
        })),
      );
      log.info("jetq serve ready", { nats: this.natsUrl, ...(this.gateway ? { http: this.gateway.url } : {}) });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startGateway(
    parts: ServiceGroup,
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
      this.gateway = await parts.add("HTTP gateway", gateway);
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

  /**
   * Stops what runs in the reverse order of the start (the HTTP gateway first, the embedded
   * nats-server last, after the connection drained). Calling it again does nothing.
   */
  async stop(): Promise<void> {
    const parts = this.parts;
    if (!parts) return;
    await parts.stop();
    this.parts = undefined;
    this.gateway = undefined;
  }
}
