import { KvWatchInclude } from "@nats-io/kv";
import { errorMessage } from "../errors.js";
import type { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import { queueConfigKey } from "../jobs/storage/layout.js";
import type { Logger } from "../logger.js";

/** Parameters of {@link QueueArrivals}. */
export interface QueueArrivalsParams {
  storage: JetStreamStorage;
  log: Logger;
  /** Called with the name of every queue defined after the watch started. */
  onArrival: (queue: string) => void;
  /** Called when a running watch ends (waiters on unknown queues should look again themselves). */
  onLost: () => void;
  /**
   * Most names remembered as missing; past it the memory starts over (a missing name then costs
   * one more read). @defaultValue 10_000
   */
  maxMissing?: number;
}

const KEY_PREFIX = queueConfigKey("");

/**
 * Tells the gateway when queues are defined, from one watch of the queue definitions in the config
 * bucket, so `/wait`s on queues that do not exist yet cost no read per name while they wait: each
 * name is looked up once, remembered as missing, and woken when its definition arrives. While the
 * watch is not running (not started yet, or broken) nothing is remembered and callers fall back to
 * looking again.
 */
export class QueueArrivals {
  private watching?: Promise<boolean>;
  private live = false;
  private stopWatch?: () => void;
  private stopped = false;
  private readonly missing = new Set<string>();
  /** Queue definitions seen since the watch started (a lookup compares it before and after). */
  arrivals = 0;

  constructor(private readonly p: QueueArrivalsParams) {}

  /** Starts the watch on first call; resolves true once it runs (false when it could not start). */
  start(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.watching ??= this.watch();
    return this.watching;
  }

  /** True while the watch runs: arrivals are reported and missing names may be remembered. */
  get isLive(): boolean {
    return this.live;
  }

  /** True when `queue` was found missing while the watch ran (and has not been defined since). */
  isKnownMissing(queue: string): boolean {
    return this.live && this.missing.has(queue);
  }

  /** Remembers that `queue` was looked up and not found (only while the watch runs). */
  markMissing(queue: string): void {
    if (!this.live) return;
    if (this.missing.size >= (this.p.maxMissing ?? 10_000)) this.missing.clear();
    this.missing.add(queue);
  }

  /** Stops the watch. */
  stop(): void {
    this.stopped = true;
    this.live = false;
    this.missing.clear();
    this.stopWatch?.();
  }

  private async watch(): Promise<boolean> {
    try {
      const kv = await this.p.storage.configBucket();
      const w = await kv.watch({ key: queueConfigKey("*"), include: KvWatchInclude.UpdatesOnly });
      this.stopWatch = () => w.stop();
      this.live = true;
      void (async () => {
        for await (const e of w) {
          if (e.operation !== "PUT") continue;
          const queue = e.key.slice(KEY_PREFIX.length);
          this.arrivals++;
          this.missing.delete(queue);
          this.p.onArrival(queue);
        }
      })()
        .catch((err: unknown) =>
          this.p.log.warn("the watch of queue definitions failed; waits recheck instead", {
            error: errorMessage(err),
          }),
        )
        .finally(() => {
          const wasLive = this.live;
          this.live = false;
          this.missing.clear();
          this.watching = undefined; // the next start() watches again
          if (wasLive) this.p.onLost();
        });
      return true;
    } catch (err) {
      this.watching = undefined;
      this.p.log.warn("could not watch queue definitions; waits recheck instead", {
        error: errorMessage(err),
      });
      return false;
    }
  }
}
