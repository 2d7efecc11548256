/**
 * Changing an existing queue's settings: what JetStream can change in place (the stream's limits,
 * the level consumers' ack wait and max ack pending, the dead-letter stream's retention) is applied
 * to JetStream, then the stored definition is replaced. See docs/queue-controls.md.
 */
import { DiscardPolicy, type StreamUpdateConfig } from "@nats-io/jetstream";
import { StateError, ValidationError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { isNotFound, wrapStorage } from "../../nats/streams.js";
import { ackWaitMs, type QueueConfig, type ResolvedQueue, resolveQueue } from "../queue.js";
import { ensureDeadLetterStream } from "./dead-letter-store.js";
import { handlesOf } from "./handles.js";
import type { JetStreamStorage } from "./jetstream-storage.js";
import { deadLetterStream, levelConsumer, PRIORITY_LEVELS, queueConfigKey, queueStream } from "./layout.js";

/** The settings of a queue that {@link updateQueue} changes (any subset). */
export type QueueChanges = Partial<Omit<ResolvedQueue, "name">>;

/** A setting of a queue definition. */
export type QueueSetting = keyof QueueChanges;

/** Every setting a queue definition has besides its name. */
export const QUEUE_SETTINGS: readonly QueueSetting[] = [
  "maxAgeMs",
  "maxEntries",
  "discardOld",
  "maxTries",
  "maxRunTimeMs",
  "maxConcurrent",
  "redeliverAfterMs",
  "deadLetters",
  "deadLetterRetentionMs",
];

/** Options of {@link updateQueue}. */
export interface QueueUpdateOptions {
  /**
   * Apply a lower `maxAgeMs` or `maxEntries` even when JetStream would then remove items the queue
   * holds now (tasks lost from the queue; their records stay). @defaultValue false
   */
  allowDrop?: boolean;
}

/** What {@link updateQueue} did. */
export interface QueueUpdateResult {
  /** The definition now stored. */
  queue: ResolvedQueue;
  /** The settings whose value changed (empty when the changes matched the stored definition). */
  changed: QueueSetting[];
}

const ns = (ms: number) => ms * 1_000_000;

/**
 * The settings `given` names (not left to defaults) whose value differs from the stored definition.
 * A queue that exists keeps its stored settings, so these are what a caller asked for and did not get.
 */
export function queueDifferences(given: QueueConfig, stored: ResolvedQueue): QueueSetting[] {
  return QUEUE_SETTINGS.filter((k) => given[k] !== undefined && given[k] !== stored[k]);
}

/**
 * Logs a warning naming the settings of `given` that the stored queue does not have (the stored
 * ones apply). Nothing when they all match.
 */
export function warnQueueDifferences(log: Logger, given: QueueConfig, stored: ResolvedQueue): void {
  const differ = queueDifferences(given, stored);
  if (differ.length === 0) return;
  log.warn("the queue exists with other settings; its stored settings apply (updateQueue changes them)", {
    queue: stored.name,
    settings: differ.map((k) => `${k}: given ${given[k]}, stored ${stored[k]}`).join("; "),
  });
}

function checkChanges(changes: QueueChanges & { name?: unknown }, name: string): void {
  if (typeof changes !== "object" || changes === null)
    throw new ValidationError("invalid_queue_config", "queue changes must be an object");
  if ("name" in changes && changes.name !== undefined && changes.name !== name)
    throw new StateError("queue_setting_immutable", "a queue cannot be renamed: create a new one");
  for (const k of Object.keys(changes)) {
    if (k !== "name" && !(QUEUE_SETTINGS as readonly string[]).includes(k))
      throw new ValidationError("invalid_queue_config", `unknown queue setting ${JSON.stringify(k)}`);
  }
}

/**
 * Refuses a lower `maxAgeMs` or `maxEntries` that would make JetStream remove items the queue holds.
 * @throws StateError (`queue_update_drops_tasks`)
 */
async function checkNothingDropped(storage: JetStreamStorage, next: ResolvedQueue, now: number): Promise<void> {
  const { state } = await handlesOf(storage).jsm.streams.info(queueStream(next.name));
  if (state.messages === 0) return;
  const oldest = Date.parse(state.first_ts);
  if (next.maxAgeMs > 0 && Number.isFinite(oldest) && oldest < now - next.maxAgeMs)
    throw new StateError(
      "queue_update_drops_tasks",
      `maxAgeMs ${next.maxAgeMs} would remove items older than that from queue ${next.name} (pass allowDrop to accept)`,
    );
  if (next.maxEntries > 0 && state.messages > next.maxEntries)
    throw new StateError(
      "queue_update_drops_tasks",
      `queue ${next.name} holds ${state.messages} items, more than maxEntries ${next.maxEntries} (pass allowDrop to accept)`,
    );
}

/** Updates a stream's config, keeping its duplicate window within a new max age (JetStream requires it). */
async function updateStream(
  storage: JetStreamStorage,
  stream: string,
  maxAgeMs: number,
  cfg: Partial<StreamUpdateConfig>,
) {
  const { config } = await handlesOf(storage).jsm.streams.info(stream);
  const window = maxAgeMs > 0 ? Math.min(config.duplicate_window, ns(maxAgeMs)) : config.duplicate_window;
  await handlesOf(storage).jsm.streams.update(stream, { ...cfg, max_age: ns(maxAgeMs), duplicate_window: window });
}

/** Gives every existing level consumer the queue's ack wait and max ack pending. */
async function updateConsumers(storage: JetStreamStorage, next: ResolvedQueue): Promise<void> {
  const stream = queueStream(next.name);
  for (let level = 0; level < PRIORITY_LEVELS; level++) {
    try {
      await handlesOf(storage).jsm.consumers.update(stream, levelConsumer(level), {
        ack_wait: ns(ackWaitMs(next)),
        max_ack_pending: next.maxConcurrent,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/**
 * Changes an existing queue's settings. JetStream applies at once: `maxAgeMs`, `maxEntries`,
 * `discardOld` (the queue's stream), `maxRunTimeMs`/`redeliverAfterMs` (the consumers' ack wait),
 * `maxConcurrent` (their max ack pending), `deadLetters` (turning it on creates the dead-letter
 * stream) and `deadLetterRetentionMs` (that stream's max age). The stored definition is written
 * last, so an interrupted update can simply be run again. Workers and gateways that are already
 * running keep the `maxTries` and `maxRunTimeMs` they started with until they restart.
 * @throws ValidationError (`invalid_queue_config`), StateError (`queue_setting_immutable` for a
 * rename, `queue_update_drops_tasks`), NotFoundError (`queue_not_found`), StorageError
 */
export async function updateQueue(
  storage: JetStreamStorage,
  name: string,
  changes: QueueChanges,
  opts: QueueUpdateOptions = {},
): Promise<QueueUpdateResult> {
  checkChanges(changes, name);
  const current = await storage.getQueue(name);
  const kv = await storage.configBucket();
  const entry = await kv.get(queueConfigKey(name));
  const stored = entry?.operation === "PUT" ? resolveQueue(entry.json<QueueConfig>()) : current;
  const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  const next = resolveQueue({ ...stored, ...defined, name });
  const changed = QUEUE_SETTINGS.filter((k) => next[k] !== stored[k]);
  if (changed.length === 0) return { queue: stored, changed };
  const has = (...keys: QueueSetting[]) => keys.some((k) => changed.includes(k));
  try {
    const shrinks =
      (next.maxAgeMs > 0 && (stored.maxAgeMs === 0 || next.maxAgeMs < stored.maxAgeMs)) ||
      (next.maxEntries > 0 && (stored.maxEntries === 0 || next.maxEntries < stored.maxEntries));
    if (shrinks && !opts.allowDrop) await checkNothingDropped(storage, next, Date.now());
    if (has("maxAgeMs", "maxEntries", "discardOld"))
      await updateStream(storage, queueStream(name), next.maxAgeMs, {
        max_msgs: next.maxEntries > 0 ? next.maxEntries : -1,
        discard: next.discardOld ? DiscardPolicy.Old : DiscardPolicy.New,
      });
    if (ackWaitMs(next) !== ackWaitMs(stored) || has("maxConcurrent")) await updateConsumers(storage, next);
    if (next.deadLetters) await ensureDeadLetterStream(storage, next);
    if (has("deadLetterRetentionMs") && next.deadLetters)
      await updateStream(storage, deadLetterStream(name), next.deadLetterRetentionMs, {});
  } catch (err) {
    throw wrapStorage(err, `updating queue ${name}`);
  }
  await storage.saveQueueDefinition(next);
  return { queue: next, changed };
}
