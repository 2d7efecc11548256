import { errorMessage } from "../errors.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import type { BusSubscription } from "./storage/bus.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { DEFAULT_PRIORITY, levelSignalWildcard, PRIORITY_LEVELS } from "./storage/layout.js";

/**
 * How often the levels' consumers are checked for work that no signal announced (backlogs from
 * before the start, items published through an outbox, retries of another process coming due),
 * at first and after a check or a signal found work. Each check costs the server a consumer
 * listing per queue, and a direct get per level without a consumer (1 s made an idle worker on 300
 * queues cost nats-server 13.5% of a core). Retries this process hands back wake their level
 * themselves ({@link LevelActivity.expect}).
 */
export const LEVEL_CHECK_MS = 5000;

/**
 * The longest pause between checks: each check that finds nothing doubles the pause up to this, so
 * an idle queue costs the server a check a minute. Work that no signal announces waits at most
 * this long before its level is pulled.
 */
export const LEVEL_CHECK_MAX_MS = 60_000;

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
  private signal?: BusSubscription;
  private readonly expected = new Set<NodeJS.Timeout>();
  private timer?: NodeJS.Timeout;
  /** The pause before the next check (see {@link LEVEL_CHECK_MAX_MS}). */
  private pause = LEVEL_CHECK_MS;
  private checking = false;
  private stopped = false;
  private readonly warn: RateLimitedLog;

  constructor(private readonly p: LevelActivityParams) {
    this.warn = new RateLimitedLog(p.log);
  }

  /** Subscribes to the signals, starts the periodic check and makes the first one. */
  async start(): Promise<void> {
    this.signal = this.p.storage.bus.subscribe(levelSignalWildcard(this.p.queue), (m) => {
      const level = Number(m.subject.slice(m.subject.lastIndexOf(".") + 1));
      if (Number.isInteger(level) && level >= 0 && level < PRIORITY_LEVELS) this.mark(level);
    });
    await this.check();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.check().finally(() => this.schedule());
    }, this.pause);
    this.timer.unref();
  }

  /** Stops the signals and the checks. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const t of this.expected) clearTimeout(t);
    this.expected.clear();
    this.signal?.unsubscribe();
  }

  /** Work will be there in `afterMs` at `level` (a retry this process handed back with a delay). */
  expect(level: number, afterMs: number): void {
    if (this.stopped || level === DEFAULT_PRIORITY) return;
    const t = setTimeout(
      () => {
        this.expected.delete(t);
        this.mark(level);
      },
      Math.min(Math.max(0, afterMs) + 10, 2 ** 31 - 1),
    );
    t.unref();
    this.expected.add(t);
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
    this.pause = LEVEL_CHECK_MS;
    this.p.onWanted(level);
  }

  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const backlog = await this.p.storage.levelBacklog(this.p.queue);
      let found = false;
      for (let level = 0; level < PRIORITY_LEVELS; level++) {
        if (level === DEFAULT_PRIORITY || backlog[level]! === 0) continue;
        found = true;
        this.mark(level);
      }
      this.pause = found ? LEVEL_CHECK_MS : Math.min(this.pause * 2, LEVEL_CHECK_MAX_MS);
    } catch (err) {
      this.warn.warn("level-check", "could not read the queue's consumers", {
        queue: this.p.queue,
        error: errorMessage(err),
      });
    } finally {
      this.checking = false;
    }
  }
}
