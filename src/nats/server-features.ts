import type { NatsConnection } from "@nats-io/nats-core";

/**
 * The JetStream API level the connected server advertises: 0 before nats-server 2.11 (which
 * introduced API levels), 1 for 2.11, and higher for later servers.
 */
export function jetStreamApiLevel(nc: NatsConnection): number {
  return nc.info?.api_lvl ?? 0;
}

/**
 * True when the connected server answers a direct get with a batch of messages (`batch`,
 * nats-server 2.11, API level 1): one request reads a page instead of one message.
 */
export function supportsBatchDirectGet(nc: NatsConnection): boolean {
  return jetStreamApiLevel(nc) >= 1;
}
