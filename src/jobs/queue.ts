import { ValidationError } from "../errors.js";
import { clampDelay } from "../timers.js";
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

/** Shortest `maxAgeMs` / `deadLetterRetentionMs` other than 0: JetStream refuses a max age under 100 ms. */
export const MIN_MAX_AGE_MS = 100;
/** Longest `maxAgeMs` / `deadLetterRetentionMs`: JetStream keeps ages as int64 nanoseconds (about 292 years). */
export const MAX_MAX_AGE_MS = 9_223_372_036_854;
/** Longest `maxRunTimeMs` / `redeliverAfterMs`: the longest timer Node can set (2^31-1 ms, about 24.8 days). */
export const MAX_RUN_TIME_MS = 2_147_483_647;
/** Most `maxConcurrent`. */
export const MAX_CONCURRENT = 1_000_000;

function int(name: string, v: number | undefined, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = v ?? dflt;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValidationError(
      "invalid_queue_config",
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A max age: 0 (no limit) or {@link MIN_MAX_AGE_MS}–{@link MAX_MAX_AGE_MS}. */
function maxAge(name: string, v: number | undefined, dflt: number): number {
  const value = int(name, v, dflt, 0, MAX_MAX_AGE_MS);
  if (value > 0 && value < MIN_MAX_AGE_MS) {
    throw new ValidationError(
      "invalid_queue_config",
      `${name} must be 0 (no limit) or at least ${MIN_MAX_AGE_MS} ms, got ${value}`,
    );
  }
  return value;
}

function flag(name: string, v: boolean | undefined, dflt: boolean): boolean {
  if (v !== undefined && typeof v !== "boolean") {
    throw new ValidationError("invalid_queue_config", `${name} must be true or false, got ${JSON.stringify(v)}`);
  }
  return v ?? dflt;
}

/**
 * Validates a queue definition and fills in defaults. Every value is checked against what
 * JetStream and Node accept (see the `MIN_`/`MAX_` constants), so a definition that passes can
 * be created. @throws ValidationError (`invalid_queue_name`, `invalid_queue_config`)
 */
export function resolveQueue(q: QueueConfig): ResolvedQueue {
  const maxRunTimeMs = int("maxRunTimeMs", q.maxRunTimeMs, DEFAULT_MAX_RUN_TIME_MS, 100, MAX_RUN_TIME_MS);
  return {
    name: validateQueueName(q.name),
    maxAgeMs: maxAge("maxAgeMs", q.maxAgeMs, 0),
    maxEntries: int("maxEntries", q.maxEntries, 0, 0),
    discardOld: flag("discardOld", q.discardOld, false),
    maxTries: int("maxTries", q.maxTries, DEFAULT_MAX_TRIES, 1),
    maxRunTimeMs,
    maxConcurrent: int("maxConcurrent", q.maxConcurrent, DEFAULT_MAX_CONCURRENT, 1, MAX_CONCURRENT),
    redeliverAfterMs: Math.min(
      int("redeliverAfterMs", q.redeliverAfterMs, MAX_ACK_WAIT_MS, 100, MAX_RUN_TIME_MS),
      maxRunTimeMs,
    ),
    deadLetters: flag("deadLetters", q.deadLetters, true),
    deadLetterRetentionMs: maxAge("deadLetterRetentionMs", q.deadLetterRetentionMs, DEFAULT_DEAD_LETTER_RETENTION_MS),
  };
}

/** How long JetStream waits for an ack before redelivering a queue's item. */
export function ackWaitMs(q: ResolvedQueue): number {
  return Math.min(q.maxRunTimeMs, q.redeliverAfterMs);
}

/**
 * How often a delivery of the queue is kept alive (a third of its ack wait, at least 50 ms, at most
 * what a Node timer accepts).
 */
export function keepAliveEveryMs(q: ResolvedQueue): number {
  return clampDelay(Math.max(50, ackWaitMs(q) / 3));
}
