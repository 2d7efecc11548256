import { errorMessage, NotFoundError } from "../errors.js";
import type { Attempt } from "../jobs/attempt.js";
import type { Logger } from "../logger.js";
import { type Timer, timeout } from "../timers.js";

/** Parameters of {@link Leases}. */
export interface LeasesParams {
  log: Logger;
  /** Back-off (ms) of a task whose per-dispatch timeout elapsed before an ack. */
  timeoutDelayMs: number;
}

interface Lease {
  attempt: Attempt;
  /** Handed to an HTTP client (ack/nak-able), rather than held for a `/wait` still gathering. */
  dispatched: boolean;
  timeout?: Timer;
}

/**
 * The tasks the HTTP gateway has taken from queues and not yet settled, by task id (each attempt
 * keeps its own work item alive): once handed to a client, a try fails when the per-dispatch
 * timeout (emq's `retry`) elapses before `/ack` or `/nak`.
 */
export class Leases {
  private readonly byId = new Map<string, Lease>();

  constructor(private readonly p: LeasesParams) {}

  /** Tasks held or dispatched. */
  get size(): number {
    return this.byId.size;
  }

  /** Holds a just-begun attempt while a `/wait` gathers the rest of its answer. */
  hold(attempt: Attempt): void {
    const id = attempt.task.id;
    const old = this.byId.get(id);
    if (old) this.clear(old); // a redelivery superseded it: its item is no longer ours to settle
    this.byId.set(id, { attempt, dispatched: false });
  }

  /** Marks a held attempt as handed to a client: ack/nak-able until `timeoutMs` elapses. */
  dispatch(attempt: Attempt, timeoutMs: number): void {
    const lease = this.byId.get(attempt.task.id);
    if (!lease || lease.attempt !== attempt) return;
    lease.dispatched = true;
    lease.timeout = timeout(() => {
      if (this.byId.get(attempt.task.id) !== lease) return;
      this.remove(lease);
      this.p.log.debug("dispatched task not acknowledged in time; failing the try", {
        task: attempt.task.id,
        timeoutMs,
      });
      attempt
        .fail(new Error(`not acknowledged within ${timeoutMs} ms of dispatch`), this.p.timeoutDelayMs)
        .catch((err: unknown) =>
          this.p.log.error("could not record a timed-out dispatch; it will be redelivered", {
            task: attempt.task.id,
            error: errorMessage(err),
          }),
        );
    }, timeoutMs);
    lease.timeout.unref();
  }

  /** Stops tracking a held attempt (the caller settles it). */
  forget(attempt: Attempt): void {
    const lease = this.byId.get(attempt.task.id);
    if (lease?.attempt === attempt) this.remove(lease);
  }

  /**
   * Takes the dispatched attempts of `ids` (duplicates count once) for the caller to settle; takes
   * nothing unless every id is dispatched.
   * @throws NotFoundError (`task_not_found`) naming the ids that are not dispatched here.
   */
  take(ids: readonly string[]): Attempt[] {
    const unique = [...new Set(ids)];
    const missing = unique.filter((id) => !this.byId.get(id)?.dispatched);
    if (missing.length > 0) {
      const shown = missing.slice(0, 10).join(", ");
      throw new NotFoundError(
        "task_not_found",
        `not dispatched by this gateway (unknown id, already settled, or its retry timeout elapsed): ${shown}${missing.length > 10 ? ", …" : ""}`,
      );
    }
    return unique.map((id) => {
      const lease = this.byId.get(id)!;
      this.remove(lease);
      return lease.attempt;
    });
  }

  /** Takes the dispatched attempt of one task, if this gateway has one, for the caller to settle. */
  takeOne(id: string): Attempt | undefined {
    const lease = this.byId.get(id);
    if (!lease?.dispatched) return undefined;
    this.remove(lease);
    return lease.attempt;
  }

  /**
   * Stops every timer and forgets every lease without settling: the work items stay unacknowledged
   * and JetStream redelivers them after the queue's ack wait.
   */
  stop(): void {
    for (const lease of this.byId.values()) {
      this.clear(lease);
      lease.attempt.abandon();
    }
    this.byId.clear();
  }

  private remove(lease: Lease): void {
    this.clear(lease);
    this.byId.delete(lease.attempt.task.id);
  }

  private clear(lease: Lease): void {
    lease.timeout?.clear();
  }
}
