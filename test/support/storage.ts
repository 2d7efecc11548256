import type { NatsConnection } from "@nats-io/nats-core";
import { JetStreamStorage, type StorageOptions } from "../../src/jobs/storage/jetstream-storage.js";
import { silentLogger } from "../../src/logger.js";

const opened = new WeakMap<NatsConnection, Promise<JetStreamStorage>>();

/**
 * The storage of a test's connection, opened once per connection (its subscriptions end with the
 * connection), for parts that take a storage (a `SchedulerService`, a `ScheduleStore`).
 */
export function storageOn(nc: NatsConnection, opts: StorageOptions = {}): Promise<JetStreamStorage> {
  let s = opened.get(nc);
  if (!s) {
    s = JetStreamStorage.open(nc, opts, silentLogger);
    opened.set(nc, s);
  }
  return s;
}
