import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { DashboardService } from "../dashboard/dashboard-service.js";
import { ConfigError } from "../errors.js";
import type { QueueConfig } from "../jobs/queue.js";
import type { TaskEngine } from "../jobs/task-engine.js";
import type { Service } from "../lifecycle.js";
import type { Logger } from "../logger.js";
import type { ScheduleCommands } from "../scheduler/schedule-commands.js";
import { timeout } from "../timers.js";
import { jetqVersion } from "../version.js";
import { buildApp } from "./app.js";
import { BearerTokens } from "./auth.js";
import type { DashboardUiOptions } from "./dashboard-routes.js";
import { Dispatcher } from "./dispatcher.js";
import { EMQ_QUEUE_DEFAULTS } from "./emq-tasks.js";
import type { ReadinessChecks } from "./health-routes.js";
import { type GatewayLimits, resolveLimits } from "./limits.js";
import { QueueCreationGate } from "./queue-creation.js";

/** Parameters of {@link HttpGateway}. */
export interface HttpGatewayParams {
  /**
   * The service's task engine: the one enqueue path, and the run rules every task taken over HTTP
   * follows (the same as a library worker's with the same options).
   */
  engine: TaskEngine;
  /** The scheduler's operations, for `/v1/schedules`. @defaultValue none (those endpoints answer 503) */
  schedules?: ScheduleCommands;
  log: Logger;
  /** Address to listen on. @defaultValue `"127.0.0.1"` */
  host?: string;
  /** Port to listen on (0 picks a free one; see {@link HttpGateway.url}). @defaultValue 8080 */
  port?: number;
  /** Accepted bearer tokens; none means no authentication. @defaultValue none */
  tokens?: readonly string[];
  /** Request limits. @defaultValue {@link DEFAULT_LIMITS} */
  limits?: Partial<GatewayLimits>;
  /**
   * Back-off (ms) before a task failed by `/nak` or by its retry timeout is handed out again
   * (JetStream hands redeliveries out first; this lets waiting tasks go first). @defaultValue 1000
   */
  nakDelayMs?: number;
  /** How long a `/wait` with timeout 0 gives the server to hand over queued tasks. @defaultValue 20 ms */
  pollGraceMs?: number;
  /** Settings of queues created by `POST /enqueue/<queue>`. @defaultValue {@link EMQ_QUEUE_DEFAULTS} */
  queueDefaults?: Omit<QueueConfig, "name">;
  /**
   * Whether `POST /enqueue/<queue>` creates a queue that does not exist (as emq does); when false it
   * answers 404 `queue_not_found`. Creation over HTTP is also capped by
   * {@link GatewayLimits.newQueuesPerMinute}. @defaultValue true
   */
  createQueues?: boolean;
  /** How long {@link HttpGateway.stop} lets requests in progress finish. @defaultValue 5000 ms */
  stopTimeoutMs?: number;
  /**
   * The task index and dashboard data of `jetq serve`: serves `GET /v1/tasks` and the dashboard at
   * `/ui` (docs/dashboard.md). @defaultValue none (`/v1/tasks` answers 503, no `/ui`)
   */
  dashboard?: DashboardService;
  /** Dashboard settings. @defaultValue on, actions allowed */
  ui?: DashboardUiOptions;
  /** More readiness checks for `/readyz` (e.g. the scheduler's election). @defaultValue none */
  readiness?: ReadinessChecks;
}

const CLIENT_ERROR_BODY = JSON.stringify({ error: "bad_request", message: "malformed HTTP request" });

/**
 * The HTTP gateway of `jetq serve`: emq-compatible endpoints and the `/v1` REST API on one
 * listening socket. `start()` listens; `stop()` answers pending `/wait`s with what they hold and
 * closes the socket (dispatched, unacknowledged tasks are redelivered after their queue's ack wait).
 *
 * ```ts
 * const gw = new HttpGateway({ engine, schedules: scheduler.commands, log, port: 8080 });
 * await gw.start();
 * console.log(gw.url); // http://127.0.0.1:8080
 * ```
 */
export class HttpGateway implements Service {
  private server?: Server;
  private readonly dispatcher: Dispatcher;
  private stopping = false;
  private inFlight = 0;
  private idle?: () => void;
  private readonly limits: GatewayLimits;
  private readonly closing = new AbortController();

  constructor(private readonly p: HttpGatewayParams) {
    this.limits = resolveLimits(p.limits);
    this.dispatcher = new Dispatcher({
      engine: p.engine,
      log: p.log,
      nakDelayMs: p.nakDelayMs ?? 1000,
      pollGraceMs: p.pollGraceMs ?? 20,
    });
  }

  /** The bound address (after `start()`). */
  get address(): AddressInfo {
    const a = this.server?.address();
    if (!a || typeof a === "string") throw new ConfigError("http_not_listening", "the HTTP gateway is not listening");
    return a;
  }

  /** Base URL of the gateway, e.g. `http://127.0.0.1:8080`. */
  get url(): string {
    const { address, family, port } = this.address;
    return `http://${family === "IPv6" ? `[${address}]` : address}:${port}`;
  }

  /** Tasks taken from queues and not yet acked or nak'ed (for monitoring and tests). */
  get leased(): number {
    return this.dispatcher.leased;
  }

  /**
   * Listens. @throws ConfigError (`http_address_in_use`, `http_listen_failed`) when the address cannot be bound
   */
  async start(): Promise<void> {
    const app = buildApp({
      engine: this.p.engine,
      storage: this.p.engine.storage,
      dispatcher: this.dispatcher,
      ...(this.p.schedules ? { schedules: this.p.schedules } : {}),
      limits: this.limits,
      queueDefaults: this.p.queueDefaults ?? EMQ_QUEUE_DEFAULTS,
      queueCreation: new QueueCreationGate({
        perMinute: this.limits.newQueuesPerMinute,
        implicit: this.p.createQueues ?? true,
      }),
      log: this.p.log,
      tokens: new BearerTokens(this.p.tokens ?? []),
      stopping: () => this.stopping,
      version: jetqVersion(),
      ...(this.p.dashboard ? { dashboard: this.p.dashboard } : {}),
      ...(this.p.ui ? { ui: this.p.ui } : {}),
      closing: this.closing.signal,
      ...(this.p.readiness ? { readiness: this.p.readiness } : {}),
    });
    const listener = getRequestListener(app.fetch);
    const server = createServer((req, res) => {
      this.inFlight++;
      res.once("close", () => {
        if (--this.inFlight === 0) this.idle?.();
      });
      void listener(req, res);
    });
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return socket.destroy();
      const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      socket.end(
        `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(CLIENT_ERROR_BODY)}\r\nConnection: close\r\n\r\n${CLIENT_ERROR_BODY}`,
      );
    });
    const host = this.p.host ?? "127.0.0.1";
    const port = this.p.port ?? 8080;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const inUse = err.code === "EADDRINUSE";
        reject(
          new ConfigError(
            inUse ? "http_address_in_use" : "http_listen_failed",
            `the HTTP gateway cannot listen on ${host}:${port}: ${err.message} (use --http host:port or --http off)`,
            { cause: err },
          ),
        );
      };
      server.once("error", onError);
      server.listen(port, host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    this.server = server;
    this.p.log.info("HTTP gateway listening", {
      url: this.url,
      auth: (this.p.tokens ?? []).length > 0 ? "bearer" : "none",
    });
  }

  /**
   * Stops accepting connections and new requests (503 `shutting_down`), answers every pending
   * `/wait` with what it holds, waits up to `stopTimeoutMs` for requests in progress, then closes
   * every connection. Tasks dispatched and not yet acked are left to JetStream's redelivery.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.closing.abort();
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    server?.closeIdleConnections();
    await this.dispatcher.stop();
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = timeout(resolve, this.p.stopTimeoutMs ?? 5000);
        this.idle = () => {
          timer.clear();
          resolve();
        };
      });
    }
    server?.closeAllConnections();
    await closed;
  }
}
