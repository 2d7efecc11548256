/**
 * Worker heartbeats: while a worker runs, it publishes who it is and how busy it is on
 * `jetq.hb.worker.<instance>` (core NATS, nothing stored), so dashboards can list the processes
 * consuming each queue. See docs/storage.md.
 */
import { hostname } from "node:os";
import { nuid } from "@nats-io/nuid";
import { jetqVersion } from "../version.js";
import type { Bus } from "./storage/bus.js";
import { workerHeartbeatSubject } from "./storage/layout.js";

/** Type of a worker heartbeat message. */
export const WORKER_HEARTBEAT = "jetq.v1.worker_heartbeat";

/** How often a heartbeat is published; readers forget an instance after three missed ones. */
export const HEARTBEAT_INTERVAL_MS = 5000;

/** What a heartbeat needs from the worker (the shape of its parameters). */
export interface WorkerHeartbeatSource {
  /** The queues served; the connection of the first one carries the heartbeats. */
  queues: readonly { rules: { queue: { name: string }; storage: { bus: Bus } } }[];
  /** Handlers the worker runs at once. */
  concurrency: number;
}

/** The JSON body of a worker heartbeat (snake_case wire form). */
export interface WorkerHeartbeatBody {
  type: typeof WORKER_HEARTBEAT;
  /** Unique id of this worker (a NUID), also the last token of the subject. */
  instance: string;
  host: string;
  pid: number;
  version: string;
  queues: string[];
  concurrency: number;
  /** Handlers running now. */
  running: number;
  /** When the worker started, RFC 3339. */
  started: string;
  /** When this heartbeat was sent, RFC 3339. */
  timestamp: string;
  /** Present (true) on the last heartbeat, sent when the worker stops. */
  stopping?: boolean;
}

/** Publishes a worker's heartbeat now and every `intervalMs` until {@link WorkerHeartbeat.stop}. */
export class WorkerHeartbeat {
  /** This worker's instance id. */
  readonly instance = nuid.next();
  private readonly started = new Date().toISOString();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly source: WorkerHeartbeatSource,
    private readonly running: () => number,
    /** @defaultValue {@link HEARTBEAT_INTERVAL_MS} */
    intervalMs = HEARTBEAT_INTERVAL_MS,
  ) {
    this.beat(false);
    this.timer = setInterval(() => this.beat(false), intervalMs);
    this.timer.unref();
  }

  private beat(stopping: boolean): void {
    const bus = this.source.queues[0]?.rules.storage.bus;
    if (!bus || bus.closed) return;
    const body: WorkerHeartbeatBody = {
      type: WORKER_HEARTBEAT,
      instance: this.instance,
      host: hostname(),
      pid: process.pid,
      version: jetqVersion(),
      queues: this.source.queues.map((q) => q.rules.queue.name),
      concurrency: this.source.concurrency,
      running: this.running(),
      started: this.started,
      timestamp: new Date().toISOString(),
      ...(stopping ? { stopping: true } : {}),
    };
    try {
      bus.publish(workerHeartbeatSubject(this.instance), JSON.stringify(body));
    } catch {
      // a closing connection: the readers forget this instance after three missed beats
    }
  }

  /** Stops beating and announces that the worker stopped. */
  stop(): void {
    clearInterval(this.timer);
    this.beat(true);
  }
}
