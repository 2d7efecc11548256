/**
 * The heartbeat of a `jetq serve` instance: every few seconds its version and roles on
 * `jetq.hb.serve.<instance>` (core NATS; see docs/storage.md), for dashboards.
 */
import { hostname } from "node:os";
import { nuid } from "@nats-io/nuid";
import { SERVE_HEARTBEAT, type ServeRoles } from "../dashboard/instances.js";
import type { Bus } from "../jobs/storage/bus.js";
import { serveHeartbeatSubject } from "../jobs/storage/layout.js";
import { HEARTBEAT_INTERVAL_MS } from "../jobs/worker-heartbeat.js";
import type { Service } from "../lifecycle.js";
import { jetqVersion } from "../version.js";

/** Publishes a `jetq serve` heartbeat now and every `intervalMs` until `stop()`. */
export class ServeHeartbeat implements Service {
  /** This instance's id (a NUID). */
  readonly instance = nuid.next();
  private readonly started = new Date().toISOString();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly bus: Bus,
    /** Asked at every beat. */
    private readonly roles: () => ServeRoles,
    /** @defaultValue {@link HEARTBEAT_INTERVAL_MS} */
    private readonly intervalMs = HEARTBEAT_INTERVAL_MS,
  ) {}

  private beat(stopping: boolean): void {
    if (this.bus.closed) return;
    const body = {
      type: SERVE_HEARTBEAT,
      instance: this.instance,
      host: hostname(),
      pid: process.pid,
      version: jetqVersion(),
      started: this.started,
      timestamp: new Date().toISOString(),
      roles: this.roles(),
      ...(stopping ? { stopping: true } : {}),
    };
    this.bus.publish(serveHeartbeatSubject(this.instance), JSON.stringify(body));
  }

  /** Beats now and then every interval. */
  async start(): Promise<void> {
    this.beat(false);
    this.timer = setInterval(() => this.beat(false), this.intervalMs);
    this.timer.unref();
  }

  /** Stops and announces the stop. */
  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.beat(true);
  }
}
