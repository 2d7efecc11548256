import { ValidationError } from "../errors.js";
import { validateQueueName } from "./names.js";

/** A work queue's definition. Stored in the config bucket so every client and worker sees the same values. */
export interface QueueConfig {
  /** Unique name: 1-64 of `A-Z a-z 0-9 _ -`. */
  name: string;
  /** Longest time (ms) an item may wait in the queue; 0 = no limit. @defaultValue 0 */
  maxAgeMs?: number;
  /** Most items the queue holds; 0 = no limit. @defaultValue 0 */
  maxEntries?: number;
  /** When full, drop the oldest items instead of refusing new ones. @defaultValue false */
  discardOld?: boolean;
  /** Most handler invocations per task. @defaultValue 10 */
  maxTries?: number;
  /** Longest a handler may run (ms) before it is aborted and the try counts as failed. @defaultValue 3_600_000 (1 h) */
  maxRunTimeMs?: number;
  /**
   * Most tasks in flight across all workers of this queue, per priority level in use (each level has
   * its own consumer; see docs/queue-controls.md). @defaultValue 100
   */
  maxConcurrent?: number;
  /**
   * How long JetStream waits before handing the item of a dead (silent) worker to another one.
   * Live workers keep their items alive (every third of this) while handlers run, up to
   * `maxRunTimeMs`, and while items wait in their buffers; so a killed worker's items reach live
   * workers after about this long. A handler that blocks the event loop longer than this gets its
   * task run twice: keep CPU-bound work off the event loop (worker threads, external processes).
   * @defaultValue min(maxRunTimeMs, 5_000)
   */
  redeliverAfterMs?: number;
  /**
   * Keep the tasks that fail for good (`expired`, `terminated`) in the queue's dead-letter store,
   * with their last error and failure history, for inspection and redrive (docs/dead-letters.md).
   * @defaultValue true
   */
  deadLetters?: boolean;
  /**
   * How long dead letters are kept (ms); 0 = until purged. Fixed when the queue's dead-letter
   * stream is created. @defaultValue 604_800_000 (7 days)
   */
  deadLetterRetentionMs?: number;
  /** Bind to an existing queue only; fail with `queue_not_found` if it does not exist. @defaultValue false */
  noCreate?: boolean;
}

/** A {@link QueueConfig} with every default applied. */
export type ResolvedQueue = Required<Omit<QueueConfig, "noCreate">>;

/** Name of the queue used when a client names none. */
export const DEFAULT_QUEUE = "DEFAULT";
/** Default {@link QueueConfig.maxTries}. */
export const DEFAULT_MAX_TRIES = 10;
/** Default {@link QueueConfig.maxRunTimeMs}. */
export const DEFAULT_MAX_RUN_TIME_MS = 3_600_000;
/** Default {@link QueueConfig.maxConcurrent}. */
export const DEFAULT_MAX_CONCURRENT = 100;
/** Default of {@link QueueConfig.redeliverAfterMs} (capped by the run time). */
export const MAX_ACK_WAIT_MS = 5_000;
/** Default {@link QueueConfig.deadLetterRetentionMs}: 7 days. */
export const DEFAULT_DEAD_LETTER_RETENTION_MS = 604_800_000;

function nonNegativeInt(name: string, v: number | undefined, dflt: number, min = 0): number {
  const value = v ?? dflt;
  if (!Number.isInteger(value) || value < min) {
    throw new ValidationError("invalid_queue_config", `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

function flag(name: string, v: boolean | undefined, dflt: boolean): boolean {
  if (v !== undefined && typeof v !== "boolean") {
    throw new ValidationError("invalid_queue_config", `${name} must be true or false, got ${JSON.stringify(v)}`);
  }
  return v ?? dflt;
}

/** Validates a queue definition and fills in defaults. @throws ValidationError */
export function resolveQueue(q: QueueConfig): ResolvedQueue {
  return {
    name: validateQueueName(q.name),
    maxAgeMs: nonNegativeInt("maxAgeMs", q.maxAgeMs, 0),
    maxEntries: nonNegativeInt("maxEntries", q.maxEntries, 0),
    discardOld: q.discardOld ?? false,
    maxTries: nonNegativeInt("maxTries", q.maxTries, DEFAULT_MAX_TRIES, 1),
    maxRunTimeMs: nonNegativeInt("maxRunTimeMs", q.maxRunTimeMs, DEFAULT_MAX_RUN_TIME_MS, 100),
    maxConcurrent: nonNegativeInt("maxConcurrent", q.maxConcurrent, DEFAULT_MAX_CONCURRENT, 1),
    redeliverAfterMs: Math.min(
      nonNegativeInt("redeliverAfterMs", q.redeliverAfterMs, MAX_ACK_WAIT_MS, 100),
      q.maxRunTimeMs ?? DEFAULT_MAX_RUN_TIME_MS,
    ),
    deadLetters: flag("deadLetters", q.deadLetters, true),
    deadLetterRetentionMs: nonNegativeInt(
      "deadLetterRetentionMs",
      q.deadLetterRetentionMs,
      DEFAULT_DEAD_LETTER_RETENTION_MS,
    ),
  };
}

/** How long JetStream waits for an ack before redelivering a queue's item. */
export function ackWaitMs(q: ResolvedQueue): number {
  return Math.min(q.maxRunTimeMs, q.redeliverAfterMs);
}
