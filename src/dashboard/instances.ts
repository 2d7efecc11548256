/**
 * The processes around a jetq deployment, as their heartbeats tell (`jetq.hb.worker.<instance>`,
 * `jetq.hb.serve.<instance>`, see docs/storage.md): workers with their queues and load, `jetq serve`
 * instances with their version and roles. An instance not heard from for three beats is dropped.
 */
import { isValidQueueName } from "../jobs/names.js";
import { HEARTBEAT_PREFIX } from "../jobs/storage/layout.js";
import { HEARTBEAT_INTERVAL_MS, WORKER_HEARTBEAT } from "../jobs/worker-heartbeat.js";
import type { ServeInstance, ServeRoles, WorkerInstance } from "./dashboard-views.js";

export type { ServeInstance, ServeRoles, WorkerInstance };

/** Type of a `jetq serve` heartbeat. */
export const SERVE_HEARTBEAT = "jetq.v1.serve_heartbeat";

const str = (v: unknown, max = 256): string | undefined =>
  typeof v === "string" && v.length > 0 && v.length <= max ? v : undefined;
const count = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
const time = (v: unknown): number | undefined => {
  const ms = typeof v === "string" ? Date.parse(v) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
};
const role = (v: unknown): "leader" | "follower" => (v === "leader" ? "leader" : "follower");

/** Options of {@link Instances}. */
export interface InstancesOptions {
  /** An instance silent this long is dropped. @defaultValue 3 heartbeat intervals (15 s) */
  staleAfterMs?: number;
  /** @defaultValue `Date.now` */
  now?: () => number;
}

/** What the heartbeats say. `heartbeat()` takes each message; `list()` answers. */
export class Instances {
  private readonly workers = new Map<string, WorkerInstance>();
  private readonly serves = new Map<string, ServeInstance>();
  private readonly staleAfterMs: number;
  private readonly now: () => number;
  private pruned = 0;

  constructor(opts: InstancesOptions = {}) {
    this.staleAfterMs = opts.staleAfterMs ?? 3 * HEARTBEAT_INTERVAL_MS;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Takes a heartbeat message. Returns false for one that is not well formed (the caller logs it,
   * rate-limited), true otherwise.
   */
  heartbeat(subject: string, data: Uint8Array): boolean {
    // Instances that came and went are forgotten even when nobody looks (memory stays flat).
    if (this.now() - this.pruned > this.staleAfterMs) this.prune();
    const kind = subject.slice(HEARTBEAT_PREFIX.length + 1).split(".")[0];
    let b: Record<string, unknown>;
    try {
      b = JSON.parse(Buffer.from(data).toString("utf8"));
    } catch {
      return false;
    }
    if (typeof b !== "object" || b === null) return false;
    const instance = str(b.instance, 64);
    if (!instance || subject !== `${HEARTBEAT_PREFIX}.${kind}.${instance}`) return false;
    const common = {
      instance,
      host: str(b.host) ?? "?",
      pid: count(b.pid) ?? 0,
      version: str(b.version, 64) ?? "?",
      started: time(b.started) ?? this.now(),
      lastSeen: this.now(),
    };
    if (kind === "worker" && b.type === WORKER_HEARTBEAT) {
      if (b.stopping === true) return this.workers.delete(instance) || true;
      const queues = Array.isArray(b.queues) ? b.queues.filter(isValidQueueName).slice(0, 1000) : [];
      this.workers.set(instance, {
        ...common,
        queues,
        concurrency: count(b.concurrency) ?? 0,
        running: count(b.running) ?? 0,
      });
      return true;
    }
    if (kind === "serve" && b.type === SERVE_HEARTBEAT) {
      if (b.stopping === true) return this.serves.delete(instance) || true;
      const r = (typeof b.roles === "object" && b.roles !== null ? b.roles : {}) as Record<string, unknown>;
      const gateway = str(r.gateway, 512);
      this.serves.set(instance, {
        ...common,
        roles: {
          scheduler: role(r.scheduler),
          task_scheduler: role(r.task_scheduler),
          ...(gateway ? { gateway } : {}),
          dashboard: r.dashboard === true,
        },
      });
      return true;
    }
    return false;
  }

  private prune(): void {
    this.pruned = this.now();
    const oldest = this.pruned - this.staleAfterMs;
    for (const m of [this.workers, this.serves]) for (const [k, v] of m) if (v.lastSeen < oldest) m.delete(k);
  }

  /** Instances heard from recently, each kind sorted by host then start. */
  list(): { workers: WorkerInstance[]; serves: ServeInstance[] } {
    this.prune();
    const order = (a: { host: string; started: number }, b: { host: string; started: number }) =>
      a.host.localeCompare(b.host) || a.started - b.started;
    return { workers: [...this.workers.values()].sort(order), serves: [...this.serves.values()].sort(order) };
  }
}
