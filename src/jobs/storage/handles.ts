import type { JetStreamClient, JetStreamManager, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ConfigError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { AckedPublisher } from "../../nats/acked-publisher.js";
import type { DirectReader } from "../../nats/direct-reader.js";
import type { ServerFeatures } from "../../nats/server-features.js";

/**
 * The NATS handles of one storage. Only the modules of `src/jobs/storage/` reach them (through
 * {@link handlesOf}; `npm run check` refuses an import of this module from anywhere else):
 * everything outside works through the storage's narrow stores and methods.
 */
export interface StorageHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Pipelined, acknowledged publishes (enqueues, records, schedules). */
  acks: AckedPublisher;
  /** Direct gets without nats.js' per-request machinery. */
  reader: DirectReader;
  features: ServerFeatures;
  /** Storage type and replicas of every stream jetq creates. */
  streamPlacement: { storage: StorageType; num_replicas: number };
  /** Storage type and replicas of every KV bucket jetq creates. */
  bucketPlacement: { storage: StorageType; replicas: number };
  log: Logger;
}

const registered = new WeakMap<object, StorageHandles>();

/** Records the handles of a storage (its constructor does). */
export function registerHandles(storage: object, handles: StorageHandles): void {
  registered.set(storage, handles);
}

/** The handles of a storage. @throws ConfigError for an object that is not a storage */
export function handlesOf(storage: object): StorageHandles {
  const h = registered.get(storage);
  if (!h) throw new ConfigError("not_a_storage", "not a JetStreamStorage");
  return h;
}
