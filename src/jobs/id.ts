import { monotonicFactory } from "ulid";

const next = monotonicFactory();

/**
 * A new k-sortable task id: a 26-character ULID (millisecond timestamp + randomness),
 * monotonic within this process so ids sort in creation order.
 */
export function newId(): string {
  return next();
}
