import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { JetqError } from "../errors.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { parseGozoMessage, type ScheduleLimits } from "./gozo-protocol.js";
import type { ScheduleStore } from "./schedule-store.js";

/** Parameters of {@link GozoListener}. */
export interface GozoListenerParams {
  nc: NatsConnection;
  store: ScheduleStore;
  /** Subject Gozo clients publish to. @defaultValue `"gozo"` */
  subject?: string;
  limits: ScheduleLimits;
  log: Logger;
  clock?: () => number;
}

/** Queue group shared by all `jetq serve` instances, so each Gozo message is taken by one of them. */
export const GOZO_QUEUE_GROUP = "jetq-scheduler";

/**
 * Takes Gozo protocol messages and stores them as schedules (or cancels). Runs on every instance
 * (a queue group spreads the work); only the elected leader fires. Bad messages have no one to
 * answer, so they are logged (rate-limited) and dropped.
 */
export class GozoListener {
  private sub?: Subscription;
  private readonly pending = new Set<Promise<void>>();
  private readonly warn: RateLimitedLog;
  /** Messages stored, cancelled and refused since start. */
  readonly counts = { stored: 0, cancelled: 0, refused: 0 };

  constructor(private readonly p: GozoListenerParams) {
    this.warn = new RateLimitedLog(p.log);
  }

  /** Subscribes to the Gozo subject. */
  start(): void {
    const clock = this.p.clock ?? Date.now;
    this.sub = this.p.nc.subscribe(this.p.subject ?? "gozo", {
      queue: GOZO_QUEUE_GROUP,
      callback: (err, msg) => {
        if (err) {
          this.p.log.error("gozo subscription failed", { error: err.message });
          return;
        }
        const job = this.handle(msg, clock()).finally(() => this.pending.delete(job));
        this.pending.add(job);
      },
    });
  }

  private async handle(msg: Parameters<typeof parseGozoMessage>[0], now: number): Promise<void> {
    try {
      const cmd = parseGozoMessage(msg, now, this.p.limits);
      if (cmd.kind === "cancel") {
        await this.p.store.cancel(cmd.id);
        this.counts.cancelled++;
      } else {
        await this.p.store.save(cmd.schedule);
        this.counts.stored++;
      }
    } catch (err) {
      this.counts.refused++;
      const code = err instanceof JetqError ? err.code : "internal";
      this.warn.warn(code, "dropped a Gozo message", { code, error: (err as Error).message });
    }
  }

  /** Unsubscribes and waits for messages being stored. */
  async stop(): Promise<void> {
    if (this.sub && !this.sub.isClosed()) await this.sub.drain().catch(() => undefined);
    await Promise.allSettled([...this.pending]);
  }
}
