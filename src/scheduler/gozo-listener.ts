import { JetqError } from "../errors.js";
import type { Bus, BusMessage, BusSubscription } from "../jobs/storage/bus.js";
import type { ScheduleStore } from "../jobs/storage/schedule-store.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { checkHeaderBlock, parseGozoMessage, type ScheduleLimits } from "./gozo-protocol.js";

/** Parameters of {@link GozoListener}. */
export interface GozoListenerParams {
  bus: Bus;
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
 * (a queue group spreads the work); only the elected leader fires. Bad messages (malformed, over
 * the header limits, or refused by the target policy) have no one to answer, so they are logged
 * (rate-limited, per reason) and dropped.
 */
export class GozoListener {
  private sub?: BusSubscription;
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
    this.sub = this.p.bus.subscribe(
      this.p.subject ?? "gozo",
      (msg) => {
        const job = this.handle(msg, clock()).finally(() => this.pending.delete(job));
        this.pending.add(job);
      },
      {
        queue: GOZO_QUEUE_GROUP,
        onError: (err) => this.p.log.error("gozo subscription failed", { error: err.message }),
      },
    );
  }

  private async handle(msg: BusMessage, now: number): Promise<void> {
    try {
      const raw = msg.headerBlock();
      if (raw) checkHeaderBlock(raw);
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
      // There is no one to answer: say why in the log, at most once per reason per interval.
      this.warn.warn(code, "dropped a Gozo message", {
        code,
        error: (err as Error).message,
        ...(msg.reply ? { reply: msg.reply.slice(0, 200) } : {}),
      });
    }
  }

  /** Unsubscribes and waits for messages being stored. */
  async stop(): Promise<void> {
    await this.sub?.drain().catch(() => undefined);
    await Promise.allSettled([...this.pending]);
  }
}
