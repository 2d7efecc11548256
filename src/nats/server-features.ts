import type { NatsConnection } from "@nats-io/nats-core";

/**
 * What the connected nats-server can do beyond the 2.9 floor jetq supports. Read from the
 * version in the server's INFO at connect. In a cluster being upgraded node by node, servers of
 * both versions answer the same streams: start jetq with `serverFeatures: "floor"` until every
 * node runs the newer version (docs/storage.md, "Server versions").
 */
export interface ServerFeatures {
  /** The server's version, e.g. `2.14.9`. */
  version: string;
  /** Direct get of many subjects' last messages in one request (`multi_last`, 2.11). */
  batchDirectGet: boolean;
  /** Pull consumers with priority groups and policies (2.11). */
  priorityGroups: boolean;
  /** Consumers paused and resumed by the server (2.11). */
  consumerPause: boolean;
  /** Per-message TTL (`Nats-TTL`, 2.11). */
  messageTtl: boolean;
  /** Atomic batch publish (`Nats-Batch-*`, 2.12; de-duplication inside a batch from 2.12.1). */
  atomicBatch: boolean;
}

/** Whether a `major.minor.patch` version is at least the given one. */
export function versionAtLeast(version: string, major: number, minor: number, patch = 0): boolean {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}

/** The features of a server of `version` (`floor`: only what 2.9 has, whatever the version). */
export function featuresOf(version: string, floor = false): ServerFeatures {
  const at = (major: number, minor: number, patch = 0) => !floor && versionAtLeast(version, major, minor, patch);
  return {
    version,
    batchDirectGet: at(2, 11),
    priorityGroups: at(2, 11),
    consumerPause: at(2, 11),
    messageTtl: at(2, 11),
    atomicBatch: at(2, 12, 1),
  };
}

/** The features of the server a connection is connected to. */
export function serverFeatures(nc: NatsConnection, floor = false): ServerFeatures {
  return featuresOf(nc.info?.version ?? "0.0.0", floor);
}
