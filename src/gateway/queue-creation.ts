import { HttpError } from "./http-errors.js";

/** Parameters of {@link QueueCreationGate}. */
export interface QueueCreationGateParams {
  /** Most queues created over HTTP in any 60 s. */
  perMinute: number;
  /** Whether `POST /enqueue/<queue>` creates a queue that does not exist (emq does). */
  implicit: boolean;
  /** Current time, epoch ms. @defaultValue `Date.now` */
  clock?: () => number;
}

const WINDOW_MS = 60_000;

/**
 * Decides whether a request may create a queue: every queue costs a stream and ten consumers on
 * the server, so the gateway creates at most `perMinute` in any minute, and none implicitly when
 * `implicit` is off.
 */
export class QueueCreationGate {
  /** Creation times within the last window, oldest first. */
  private readonly times: number[] = [];

  constructor(private readonly p: QueueCreationGateParams) {}

  /**
   * Takes a creation from the budget, for a queue that does not exist.
   * @param implicit true for `POST /enqueue/<queue>`, false for `PUT /v1/queues/<queue>`.
   * @throws HttpError 404 `queue_not_found` (implicit creation is off), 429 `queue_creation_limited`
   */
  take(queue: string, implicit: boolean): void {
    if (implicit && !this.p.implicit)
      throw new HttpError(
        404,
        "queue_not_found",
        `queue ${JSON.stringify(queue)} does not exist (this gateway does not create queues on enqueue; create it with PUT /v1/queues/${queue})`,
      );
    const now = (this.p.clock ?? Date.now)();
    while (this.times.length > 0 && now - this.times[0]! >= WINDOW_MS) this.times.shift();
    if (this.times.length >= this.p.perMinute)
      throw new HttpError(
        429,
        "queue_creation_limited",
        `this gateway creates at most ${this.p.perMinute} queues per minute; try again later`,
      );
    this.times.push(now);
  }
}
