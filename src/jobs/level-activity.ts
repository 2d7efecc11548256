import type { Subscription } from "@nats-io/nats-core";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import {
  DEFAULT_PRIORITY,
  levelConsumer,
  levelSignalWildcard,
  PRIORITY_LEVELS,
  queueStream,
} from "./storage/layout.js";

/** How often the levels' consumers are checked for work (backlogs, retries coming due). */
export const LEVEL_CHECK_MS = 1000;

const LEVEL_OF = new Map(Array.from({ length: PRIORITY_LEVELS }, (_, l) => [levelConsumer(l), l]));

/** Parameters of {@link LevelActivity}. */
export interface LevelActivityParams {
  storage: JetStreamStorage;
  queue: string;
  log: Logger;
  /** Called when a level that was not wanted becomes wanted. */
  onWanted: (level: number) => void;
}

/**
 * Which priority levels of a queue a consumer should pull now. The default level always; another
 * level while it has work: from a signal its publisher sends (`levelSignalSubject`), from a check
 * of the level consumers every {@link LEVEL_CHECK_MS} (backlogs from before the start, retries
 * coming due, work items published without a signal — by the outbox), and while pulls of it keep
 * returning items. Neither alternative was free: a waiting pull request on every idle level, or a
 * subscription to every other level's work subjects, made the server and the client work on every
 * message of the queue (20-50 % more CPU per task).
 */
export class LevelActivity {
  private readonly wanted = new Array<boolean>(PRIORITY_LEVELS).fill(false);
  private signal?: Subscription;
  private timer?: NodeJS.Timeout;
  private checking = false;
  private stopped = false;
  private readonly warn: RateLimitedLog;

  constructor(private readonly p: LevelActivityParams) {
    this.warn = new RateLimitedLog(p.log);
  }

  /** Subscribes to the signals, starts the periodic check and makes the first one. */
  async start(): Promise<void> {
    this.signal = this.p.storage.nc.subscribe(levelSignalWildcard(this.p.queue), {
      callback: (_err, m) => {
        const level = Number(m.subject.slice(m.subject.lastIndexOf(".") + 1));
        if (Number.isInteger(level) && level >= 0 && level < PRIORITY_LEVELS) this.mark(level);
      },
    });
    this.timer = setInterval(() => void this.check(), LEVEL_CHECK_MS);
    this.timer.unref();
    await this.check();
  }

  /** Stops the signals and the checks. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.signal?.unsubscribe();
  }

  /** True when the level should be pulled (always for the default level). */
  wants(level: number): boolean {
    return level === DEFAULT_PRIORITY || this.wanted[level]!;
  }

  /** A pull of the level starts: its flag is cleared (a signal, a check or a full pull sets it again). */
  begin(level: number): void {
    this.wanted[level] = false;
  }

  /** The level has work. */
  mark(level: number): void {
    if (this.wanted[level] || level === DEFAULT_PRIORITY) return;
    this.wanted[level] = true;
    this.p.onWanted(level);
  }

  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      for await (const c of this.p.storage.jsm.consumers.list(queueStream(this.p.queue))) {
        const level = LEVEL_OF.get(c.name);
        if (level !== undefined && c.num_pending + c.num_ack_pending > 0) this.mark(level);
      }
    } catch (err) {
      this.warn.warn("level-check", "could not read the queue's consumers", {
        queue: this.p.queue,
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      this.checking = false;
    }
  }
}
