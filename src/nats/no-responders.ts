import { NoRespondersError, RequestError } from "@nats-io/nats-core";

/** True when a request failed only because nobody subscribes to its subject (no service answers). */
export function isNoResponders(err: unknown): boolean {
  return err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders());
}
