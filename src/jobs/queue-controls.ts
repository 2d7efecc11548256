import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import {
  type QueueControls,
  type QueueControlsStore,
  type RateLimit,
  validateRateLimit,
} from "./storage/queue-controls-store.js";

export type { QueueControls, RateLimit } from "./storage/queue-controls-store.js";
export { isHeld } from "./storage/queue-controls-store.js";

/**
 * The everyday queue controls as operations (used by the client and the REST API alike): each
 * checks that the queue exists, changes its controls atomically and publishes the queue event.
 */
export class QueueControlCommands {
  constructor(
    private readonly storage: JetStreamStorage,
    /** Where the controls are stored (and watched). */
    readonly store: QueueControlsStore,
  ) {}

  /** The commands of a storage, on its controls store. */
  static async open(storage: JetStreamStorage): Promise<QueueControlCommands> {
    return new QueueControlCommands(storage, await storage.controls());
  }

  /** The controls of a queue. @throws NotFoundError (`queue_not_found`) */
  async get(queue: string): Promise<QueueControls> {
    await this.storage.getQueue(queue);
    return this.store.get(queue);
  }

  /** Pauses a queue (kept until resumed). @throws NotFoundError (`queue_not_found`) */
  async pause(queue: string): Promise<QueueControls> {
    await this.storage.getQueue(queue);
    const c = await this.store.update(queue, (cur) => ({ ...cur, paused: cur.paused ?? { at: Date.now() } }));
    await this.storage.pauseConsumers(queue, true);
    this.storage.publishQueueEvent(queue, "paused");
    return c;
  }

  /** Resumes a queue, ending a pause and any hold. @throws NotFoundError (`queue_not_found`) */
  async resume(queue: string): Promise<QueueControls> {
    await this.storage.getQueue(queue);
    const c = await this.store.update(queue, ({ paused: _p, holdUntil: _h, ...rest }) => rest);
    await this.storage.pauseConsumers(queue, false);
    this.storage.publishQueueEvent(queue, "resumed");
    return c;
  }

  /**
   * Sets (or with `null` removes) the queue's rate limit.
   * @throws ValidationError (`invalid_rate_limit`), NotFoundError (`queue_not_found`)
   */
  async setRateLimit(queue: string, limit: RateLimit | null): Promise<QueueControls> {
    const rl = limit === null ? undefined : validateRateLimit(limit);
    await this.storage.getQueue(queue);
    const c = await this.store.update(queue, ({ rateLimit: _r, ...rest }) => (rl ? { ...rest, rateLimit: rl } : rest));
    this.storage.publishQueueEvent(queue, "rate_limit_changed", { detail: rl ? { ...rl } : { limit: null } });
    return c;
  }

  /** Holds a queue back until `until` (epoch ms) and publishes a `held` event. */
  async hold(queue: string, until: number): Promise<QueueControls> {
    const c = await this.store.update(queue, (cur) => ({ ...cur, holdUntil: Math.max(cur.holdUntil ?? 0, until) }));
    this.storage.publishQueueEvent(queue, "held", { detail: { until: new Date(until).toISOString() } });
    return c;
  }
}
