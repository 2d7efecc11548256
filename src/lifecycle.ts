import type { Logger } from "./logger.js";

/**
 * A part of a process with one lifecycle: `start()` resolves once it works, `stop()` releases what
 * it holds (timers, subscriptions, connections) and may be called again, or before a start that
 * failed.
 */
export interface Service {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * Parts started one after the other and stopped in the reverse order, so each stops while what it
 * depends on still runs. A part that fails to start leaves the ones before it to `stop()`; a part
 * that fails to stop is logged and the others stop all the same. Stopping twice stops once.
 */
export class ServiceGroup implements Service {
  private readonly running: { name: string; part: Service }[] = [];
  private stopping?: Promise<void>;

  constructor(private readonly log: Logger) {}

  /** Starts `part` and returns it; `stop()` stops it (before the parts added earlier). */
  async add<T extends Service>(name: string, part: T): Promise<T> {
    if (this.stopping) throw new Error(`cannot start ${name}: stopping`);
    try {
      await part.start();
    } catch (err) {
      // Whatever it made before failing goes too.
      await Promise.resolve()
        .then(() => part.stop())
        .catch(() => undefined);
      throw err;
    }
    this.running.push({ name, part });
    return part;
  }

  /** Adds a part that is already running (a connection opened by the caller) to be stopped in turn. */
  adopt(name: string, stop: () => void | Promise<void>): void {
    this.running.push({ name, part: { start: () => undefined, stop } });
  }

  /** Nothing to start: the parts start as they are added. */
  start(): void {}

  /** Stops every part, the last added first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (let p = this.running.pop(); p; p = this.running.pop()) {
        try {
          await p.part.stop();
        } catch (err) {
          this.log.error(`stopping ${p.name} failed`, { error: (err as Error).message });
        }
      }
    })().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }
}
