/**
 * Idempotency keys with a window (de-duplication windows): an enqueue that names a key already
 * claimed within its window is answered with the task that holds the key instead of creating one.
 * Keys live in the KV bucket `JETQ_DEDUPE`; docs/idempotency.md describes modes, layout and failures.
 */
import { createHash } from "node:crypto";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { StorageError, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { wrapStorage } from "../nats/streams.js";
import type { DelayedTasks } from "./delayed-tasks.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { MAX_DEDUPE_WINDOW_MS } from "./storage/layout.js";
import type { Task } from "./task.js";

/** What a later enqueue with a claimed key does within the window. */
export type DedupeMode =
  /** It is dropped: the caller gets the task that claimed the key (the first one). */
  | "throttle"
  /** It replaces the pending task's payload and pushes its start to `windowMs` after this enqueue. */
  | "debounce";

/** The `dedupe` option of an enqueue. */
export interface DedupeOptions {
  /** The idempotency key: any string of 1-{@link MAX_DEDUPE_KEY_BYTES} bytes (UTF-8), scoped to the queue. */
  key: string;
  /** How long the key holds, ms (1 to {@link MAX_DEDUPE_WINDOW_MS}). */
  windowMs: number;
  /** @defaultValue `"throttle"` */
  mode?: DedupeMode;
}

/** What an enqueue with a `dedupe` option did. */
export interface DedupeResult {
  /** The task that represents the enqueue: the new one, or the one that holds the key. */
  task: Task;
  /** True when no task was created: the key was held (throttle) or the pending task was updated (debounce). */
  duplicate: boolean;
}

/**
 * How the caller turns a task into stored messages: the client's way (signing, outbox, metrics) or
 * the HTTP gateway's.
 */
export interface TaskWriter {
  /** Sets the task's queue and state (`enqueueState`), signs, and encodes it (checking the size). */
  prepare(task: Task): Uint8Array;
  /** Stores a prepared task that was not stored before (in its queue, or as a delayed task). */
  write(task: Task, data: Uint8Array): Promise<void>;
}

export { MAX_DEDUPE_WINDOW_MS } from "./storage/layout.js";
/** Longest idempotency key, in UTF-8 bytes. */
export const MAX_DEDUPE_KEY_BYTES = 1024;
/**
 * A claim whose task has not appeared after this long is taken to be abandoned (its enqueue
 * crashed) and is taken over: twice the time an acknowledged publish may take.
 */
export const ABANDONED_CLAIM_MS = 10_000;
/**
 * A debounced task due within this margin (or a quarter of its window, if less) is treated as
 * already started: a later enqueue creates a new task instead of updating it, so the scheduler
 * cannot fire the old version while it is being replaced (unless clocks differ by more than the
 * margin; see docs/idempotency.md).
 */
export const DEBOUNCE_GUARD_MS = 1000;

/** The margin of {@link DEBOUNCE_GUARD_MS} for a window. */
const guardOf = (windowMs: number): number => Math.min(DEBOUNCE_GUARD_MS, windowMs / 4);

const MODES: ReadonlySet<string> = new Set<DedupeMode>(["throttle", "debounce"]);

/**
 * Checks a `dedupe` option and fills in the default mode.
 * @throws ValidationError `invalid_dedupe_key`, `invalid_dedupe_window`, `invalid_dedupe_mode`
 */
export function validateDedupe(o: DedupeOptions): Required<DedupeOptions> {
  if (typeof o?.key !== "string" || o.key.length === 0 || Buffer.byteLength(o.key) > MAX_DEDUPE_KEY_BYTES) {
    throw new ValidationError("invalid_dedupe_key", `dedupe key must be a string of 1-${MAX_DEDUPE_KEY_BYTES} bytes`);
  }
  if (!Number.isInteger(o.windowMs) || o.windowMs < 1 || o.windowMs > MAX_DEDUPE_WINDOW_MS) {
    throw new ValidationError(
      "invalid_dedupe_window",
      `dedupe windowMs must be an integer 1-${MAX_DEDUPE_WINDOW_MS} (7 days), got ${o.windowMs}`,
    );
  }
  const mode = o.mode ?? "throttle";
  if (!MODES.has(mode)) {
    throw new ValidationError("invalid_dedupe_mode", `dedupe mode must be "throttle" or "debounce", got ${mode}`);
  }
  return { key: o.key, windowMs: o.windowMs, mode };
}

/** KV key of an idempotency key in a queue: `<queue>.<base64url of its SHA-256>`. */
export function dedupeKvKey(queue: string, key: string): string {
  return `${queue}.${createHash("sha256").update(key).digest("base64url")}`;
}

/** The value stored under a key (JSON, snake_case). */
interface Claim {
  /** The task that holds the key. */
  taskId: string;
  /** End of the window, epoch ms (debounce: the pending task's run time). */
  until: number;
  mode: DedupeMode;
  /** When this value was written, epoch ms. */
  written: number;
}

const encodeClaim = (c: Claim): string =>
  JSON.stringify({ task_id: c.taskId, until: c.until, mode: c.mode, written: c.written });

function decodeClaim(e: KvEntry): Claim | undefined {
  try {
    const w = e.json<Record<string, unknown>>();
    if (typeof w.task_id !== "string" || typeof w.until !== "number" || typeof w.written !== "number") return;
    if (w.mode !== "throttle" && w.mode !== "debounce") return;
    return { taskId: w.task_id, until: w.until, mode: w.mode, written: w.written };
  } catch {
    return undefined;
  }
}

/** True when a KV write failed because the key changed since it was read (someone else won). */
function isConflict(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 10071 || err.code === 10164);
}

/** One pass of the claim loop: what was read, and the call's arguments. */
interface Round {
  kv: KV;
  key: string;
  entry: KvEntry | null;
  /** The entry's claim, when it holds a readable one. */
  claim: Claim | undefined;
  now: number;
  task: Task;
  queue: string;
  o: Required<DedupeOptions>;
  writer: TaskWriter;
}

/** What a pass ends with: a result, or `again` (lost a race: re-read now), or `wait` (re-read shortly). */
type Step = DedupeResult | "again" | "wait";

/**
 * Enqueues with idempotency keys on one storage (one per storage, made by its owner). The bucket is
 * created on first use with the storage's replicas and memory settings.
 */
export class Idempotency {
  constructor(
    private readonly storage: JetStreamStorage,
    private readonly delayed: DelayedTasks,
    private readonly log: Logger,
  ) {}

  private kv(): Promise<KV> {
    return this.storage.bucket("dedupe");
  }

  /**
   * Enqueues `task` to `queue` under an idempotency key. Throttle: the first enqueue in a window
   * claims the key and creates the task; later ones get that task back and create nothing. Debounce:
   * the task is delayed by `windowMs`; later enqueues within the window replace its payload and
   * push its start to `windowMs` after themselves, and get the same task id. A duplicate publishes a
   * `deduplicated` queue event. Concurrent enqueues with one key create one task.
   * @throws ValidationError (`invalid_dedupe_*`, `dedupe_mode_conflict`, `unsupported`, or any of the
   * writer's), StorageError
   */
  async enqueue(task: Task, queue: string, options: DedupeOptions, writer: TaskWriter): Promise<DedupeResult> {
    const o = validateDedupe(options);
    if (task.dependencies?.length) {
      throw new ValidationError("unsupported", "an idempotency key cannot be combined with dependencies");
    }
    if (o.mode === "debounce" && task.runAt !== undefined) {
      throw new ValidationError(
        "unsupported",
        "a debounced task runs windowMs after the latest enqueue: give no runAt",
      );
    }
    const kv = await this.kv();
    const key = dedupeKvKey(queue, o.key);
    // Throttled tasks keep their id: encode (and check) them once, before anything is claimed.
    const data = o.mode === "throttle" ? writer.prepare(task) : undefined;
    const giveUp = Date.now() + 2 * ABANDONED_CLAIM_MS;
    for (let pause = 5; ; ) {
      let entry: KvEntry | null;
      try {
        entry = await kv.get(key);
      } catch (err) {
        throw wrapStorage(err, `reading idempotency key ${key}`);
      }
      const claim = entry?.operation === "PUT" ? decodeClaim(entry) : undefined;
      const r: Round = { kv, key, entry, claim, now: Date.now(), task, queue, o, writer };
      const step = data ? await this.throttle(r, data) : await this.debounce(r);
      if (typeof step === "object") return step;
      if (Date.now() > giveUp) {
        throw new StorageError("dedupe_contended", `could not settle idempotency key ${key} of queue ${queue}`);
      }
      if (step === "wait") {
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, 100);
      }
    }
  }

  private async throttle(r: Round, data: Uint8Array): Promise<Step> {
    const { claim, now, task, queue, o } = r;
    if (claim && now < claim.until) {
      checkMode(claim, o);
      const existing = await this.find(claim.taskId, queue);
      // A discarded record (null) still proves the task existed; the caller's copy stands in for it.
      if (existing !== undefined) return this.duplicate(existing ?? { ...task, id: claim.taskId }, queue, o.mode);
      if (now - claim.written < ABANDONED_CLAIM_MS) return "wait";
      this.log.warn("taking over an idempotency key whose task never appeared", { queue, task: claim.taskId });
    }
    return this.claimAndWrite(r, now + o.windowMs, data);
  }

  private async debounce(r: Round): Promise<Step> {
    const { entry, claim, now, task, queue, o, writer } = r;
    if (claim && now < claim.until) checkMode(claim, o);
    const guard = guardOf(o.windowMs);
    if (entry && claim && claim.until - now > guard) {
      const pending = await this.delayed.pending(claim.taskId);
      if (pending && pending.runAt! - now > guard) {
        const next: Task = { ...task, id: claim.taskId, createdAt: pending.createdAt, runAt: now + o.windowMs };
        await this.delayed.reschedule(next, writer.prepare(next));
        if ((await this.write(r, { ...claim, until: next.runAt!, written: now })) === undefined) return "again";
        return this.duplicate(next, queue, o.mode);
      }
      // Not stored yet by its enqueue (or that enqueue crashed, or the task was cancelled).
      if (!pending && now - claim.written < ABANDONED_CLAIM_MS) return "wait";
    }
    // No pending task, or one due so soon that it counts as started: a new task takes the key.
    task.runAt = now + o.windowMs;
    return this.claimAndWrite(r, task.runAt, writer.prepare(task));
  }

  /**
   * Claims the key for the round's task until `until` (create, or update at the revision read) and
   * stores the task (`data`: prepared before the claim, so a task that cannot be stored claims
   * nothing). A failed store gives the claim back.
   */
  private async claimAndWrite(r: Round, until: number, data: Uint8Array): Promise<Step> {
    const rev = await this.write(r, { taskId: r.task.id, until, mode: r.o.mode, written: r.now });
    if (rev === undefined) return "again";
    try {
      await r.writer.write(r.task, data);
    } catch (err) {
      await r.kv.delete(r.key, { previousSeq: rev }).catch(() => undefined);
      throw err;
    }
    return { task: r.task, duplicate: false };
  }

  /** Writes a claim if the key is still as read; resolves with the new revision, or undefined when it changed. */
  private async write(r: Round, claim: Claim): Promise<number | undefined> {
    try {
      return r.entry?.operation === "PUT"
        ? await r.kv.update(r.key, encodeClaim(claim), r.entry.revision)
        : await r.kv.create(r.key, encodeClaim(claim));
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw wrapStorage(err, `claiming idempotency key ${r.key}`);
    }
  }

  /** The task's record, else its work item in `queue`; `null` for a discarded record; undefined when neither exists. */
  private async find(id: string, queue: string): Promise<Task | null | undefined> {
    const rec = await this.storage.loadRecord(id);
    if (rec !== undefined) return rec;
    return this.storage.findWorkItem(id, queue, true);
  }

  private duplicate(task: Task, queue: string, mode: DedupeMode): DedupeResult {
    this.storage.publishQueueEvent(queue, "deduplicated", { taskId: task.id, detail: { mode } });
    return { task, duplicate: true };
  }
}

function checkMode(claim: Claim, o: Required<DedupeOptions>): void {
  if (claim.mode !== o.mode) {
    throw new ValidationError(
      "dedupe_mode_conflict",
      `idempotency key is held in ${claim.mode} mode until ${new Date(claim.until).toISOString()}; this enqueue asked for ${o.mode}`,
    );
  }
}
