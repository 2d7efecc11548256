import type { KeyObject } from "node:crypto";
import type { JsMsg } from "@nats-io/jetstream";
import { errorMessage, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { ignoreClosed } from "../nats/ignore-closed.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { type Timer, timeout } from "../timers.js";
import type { Cancellations } from "./cancellations.js";
import { TerminateTask } from "./handler-errors.js";
import { keepAliveEveryMs, type ResolvedQueue } from "./queue.js";
import type { RetryPolicy } from "./retry-policy.js";
import { verifyTask } from "./signing.js";
import { deadLetterReason, writeDeadLetter } from "./storage/dead-letter-store.js";
import { deliveryIsStale, type JetStreamStorage, type StoredRecord } from "./storage/jetstream-storage.js";
import { decodeTask } from "./storage/task-codec.js";
import { MAX_FAILURES_KEPT, type Task, TaskState } from "./task.js";
import { type TaskSpan, traceTry } from "./tracing.js";

/** The rules every consumer of a queue follows (library workers and the HTTP gateway alike). */
export interface AttemptRules {
  storage: JetStreamStorage;
  queue: ResolvedQueue;
  retryPolicy: RetryPolicy;
  /** Final states whose records are replaced by a tombstone instead of kept. */
  discard: ReadonlySet<TaskState>;
  log: Logger;
  /** Require (or, with `optional`, check when present) producer signatures. */
  verifier?: { key: KeyObject; optional: boolean };
  /** Cancellation requests: a cancelled task is settled as `cancelled` instead of run. */
  cancels?: Cancellations;
}

/** A record read when its delivery arrived is used at start when read less than this long ago. */
export const RECORD_FRESH_MS = 1000;

/** First and longest pause between tries of an outcome write that storage refused. */
const OUTCOME_RETRY_MIN_MS = 100;
const OUTCOME_RETRY_MAX_MS = 2_000;

/** One rate-limited warning log per logger for outcome writes being retried. */
const warnings = new WeakMap<Logger, RateLimitedLog>();
function outcomeWarnings(log: Logger): RateLimitedLog {
  let w = warnings.get(log);
  if (!w) {
    w = new RateLimitedLog(log);
    warnings.set(log, w);
  }
  return w;
}

/** Tells JetStream an item is still being worked on (a closed connection is no error). */
const touch = (m: JsMsg): void => ignoreClosed(() => m.working());

/** Longest error text kept per entry of `task.failures` (`lastError` keeps it whole). */
const FAILURE_TEXT_MAX = 1024;

/** Appends a failed try to the task's history, keeping the most recent {@link MAX_FAILURES_KEPT}. */
function noteFailure(task: Task, error: string): void {
  const failures = task.failures ?? [];
  failures.push({ try: task.tries, at: Date.now(), error: error.slice(0, FAILURE_TEXT_MAX) });
  task.failures = failures.slice(-MAX_FAILURES_KEPT);
}

/** A try still running after this long gets its `active` record written. */
export const ACTIVE_RECORD_DELAY_MS = 100;

/** How often the tries not yet {@link ACTIVE_RECORD_DELAY_MS} old are looked at (ms). */
const LASTING_SWEEP_MS = 25;

/**
 * One try of one task, from delivery to outcome, the same whichever front end holds it (a worker
 * slot, an HTTP `/wait`). {@link beginAttempt} turns a delivered work item into an attempt (or
 * settles it when it must not run); the holder then calls exactly one of {@link complete},
 * {@link fail}, {@link cancel}, {@link postpone}, {@link release}. Once the try has lasted
 * {@link ACTIVE_RECORD_DELAY_MS} the attempt writes the `active` record and keeps its work item
 * alive from then on (every third of the queue's ack wait; from the start when that is shorter).
 * Most tries end sooner: their outcome record replaces the `active` one, and they cost no timer of
 * their own (one sweep every {@link LASTING_SWEEP_MS} finds the tries that lasted, for all of them).
 */
export class Attempt {
  /** Tries not yet found lasting, in the order they began (insertion order), and their sweep. */
  private static readonly young = new Set<Attempt>();
  private static sweeper?: NodeJS.Timeout;

  private settled = false;
  private activeRecorded = false;
  private abandoned = false;
  private wake?: () => void;
  /** Set when the try ended by handing the task back to be tried again: after how long (ms). */
  retryInMs?: number;
  /** Keeps the item alive, from {@link ACTIVE_RECORD_DELAY_MS} on. */
  private beat?: NodeJS.Timeout;
  /** When the try began (monotonic ms). */
  private readonly begun = performance.now();
  /** The holder's run-time limit ({@link limitRunTime}); its timer is set once the try lasts. */
  private runLimit?: { ms: number; onExceeded: () => void; timer?: Timer };
  /** The span of this try (docs/tracing.md), ended once its outcome is written. */
  private span?: TaskSpan;

  constructor(
    /** The task, in state `active`, with this try counted. */
    readonly task: Task,
    private readonly msg: JsMsg,
    private readonly rules: AttemptRules,
  ) {
    Attempt.watch(this);
    // A short ack wait cannot wait for the try to last: its item is kept alive from the start.
    if (keepAliveEveryMs(rules.queue) <= ACTIVE_RECORD_DELAY_MS) this.keepAliveEvery();
    this.span = traceTry(task);
  }

  /** Whether this try is traced (has a span to run its handler in). */
  get traced(): boolean {
    return this.span !== undefined;
  }

  /** Runs `fn` (the handler) inside the span of this try. */
  inSpan<T>(fn: () => T): T {
    return this.span ? this.span.run(fn) : fn();
  }

  /** Ends the span of this try with the state the task is left in (failed when `error` is given). */
  private endSpan(error?: string): void {
    const span = this.span;
    if (!span) return;
    this.span = undefined;
    span.set("jetq.task.state", this.task.state);
    span.end(error === undefined ? undefined : new Error(error));
  }

  /**
   * Calls `onExceeded` once the try has run for `ms`, unless it ended (or {@link clearRunLimit} was
   * called) before. Its timer is set only when the try lasts {@link ACTIVE_RECORD_DELAY_MS}, or at
   * once for a limit shorter than that.
   */
  limitRunTime(ms: number, onExceeded: () => void): void {
    this.runLimit = { ms, onExceeded };
    if (ms <= ACTIVE_RECORD_DELAY_MS) this.armRunLimit();
  }

  private armRunLimit(): void {
    const limit = this.runLimit;
    if (!limit || limit.timer) return;
    limit.timer = timeout(limit.onExceeded, limit.ms - (performance.now() - this.begun));
  }

  /** Drops the run-time limit (the handler returned; its outcome is being written). */
  clearRunLimit(): void {
    this.runLimit?.timer?.clear();
    this.runLimit = undefined;
  }

  /** Stops the attempt's timers. */
  private stopTimers(): void {
    clearInterval(this.beat);
    Attempt.young.delete(this);
    this.clearRunLimit();
  }

  /** Follows a new try until it lasts {@link ACTIVE_RECORD_DELAY_MS} (or ends first). */
  private static watch(a: Attempt): void {
    Attempt.young.add(a);
    if (Attempt.sweeper) return;
    Attempt.sweeper = setInterval(() => Attempt.sweep(), LASTING_SWEEP_MS);
    Attempt.sweeper.unref();
  }

  /** Tells the tries that have lasted {@link ACTIVE_RECORD_DELAY_MS} so; stops when none is left to follow. */
  private static sweep(): void {
    const due = performance.now() - ACTIVE_RECORD_DELAY_MS;
    for (const a of Attempt.young) {
      if (a.begun > due) break; // the rest began later
      Attempt.young.delete(a);
      a.lasting();
    }
    if (Attempt.young.size > 0) return;
    clearInterval(Attempt.sweeper);
    Attempt.sweeper = undefined;
  }

  /** Marks the try settled and stops its timers; false when it already was. */
  private end(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.stopTimers();
    return true;
  }

  /**
   * The try has lasted {@link ACTIVE_RECORD_DELAY_MS}: writes the `active` record (once; without
   * waiting for an acknowledgement — the outcome record follows on the same connection), starts
   * keeping the item alive and sets the run-time limit's timer.
   */
  private lasting(): void {
    if (this.settled || this.abandoned) return;
    if (!this.activeRecorded) {
      this.activeRecorded = true;
      ignoreClosed(() => this.rules.storage.saveRecordQuietly(this.task));
    }
    if (!this.beat) {
      this.keepAlive();
      this.keepAliveEvery();
    }
    this.armRunLimit();
  }

  private keepAliveEvery(): void {
    this.beat = setInterval(() => this.keepAlive(), keepAliveEveryMs(this.rules.queue));
    this.beat.unref();
  }

  /**
   * Lets go of the try without settling it (its holder is shutting down): the item is no longer
   * kept alive, and an outcome write that storage keeps refusing stops being retried (it then
   * fails). The item stays unacknowledged and is redelivered after its ack wait: the task runs
   * again, the one case of at-least-once left.
   */
  abandon(): void {
    this.abandoned = true;
    this.stopTimers();
    this.wake?.();
    this.endSpan("abandoned: the holder stopped; the item will be redelivered");
  }

  /**
   * Runs a storage write of this try's outcome until it succeeds — retrying with back-off while
   * storage refuses it (e.g. a stream without a leader), keeping the item alive meanwhile — so a
   * handler never runs again because its outcome could not be written, and no nak raises the
   * delivery count. Gives up only when {@link abandon}ed.
   */
  private async persist(write: () => Promise<unknown>): Promise<void> {
    let beat: NodeJS.Timeout | undefined;
    try {
      for (let delay = OUTCOME_RETRY_MIN_MS; ; delay = Math.min(delay * 2, OUTCOME_RETRY_MAX_MS)) {
        try {
          await write();
          return;
        } catch (err) {
          if (this.abandoned) throw err;
          outcomeWarnings(this.rules.log).warn("outcome", "could not record a task outcome; retrying", {
            task: this.task.id,
            queue: this.task.queue,
            error: errorMessage(err),
          });
          beat ??= setInterval(() => this.abandoned || touch(this.msg), keepAliveEveryMs(this.rules.queue));
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, delay);
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
      }
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * Hands the task back without counting this try (the holder could not run it: shutdown, client
   * gone): the try is undone in the record, the delivery recorded as a release, the item released.
   */
  async release(): Promise<void> {
    const undone = await this.undoTry((task) => {
      task.state = task.tries > 0 ? TaskState.Retry : TaskState.New;
    });
    if (undone) this.msg.nak();
  }

  /**
   * Ends this try without counting it: the try is taken back and the delivery recorded as a release
   * (so JetStream's delivery count does not use up a try either); `describe` sets what the record
   * says. Resolves false when the try was already settled.
   */
  private async undoTry(describe: (task: Task) => void): Promise<boolean> {
    if (!this.end()) return false;
    this.task.tries = Math.max(0, this.task.tries - 1);
    this.task.releases = (this.task.releases ?? 0) + 1;
    describe(this.task);
    await this.persist(() => this.rules.storage.saveRecord(this.task));
    this.endSpan();
    return true;
  }

  /**
   * Puts the task back to be tried again after `delayMs` without counting this try (a handler that
   * is being rate limited): like {@link release}, but after a delay and with `reason` recorded.
   */
  async postpone(delayMs: number, reason: string): Promise<void> {
    const undone = await this.undoTry((task) => {
      task.state = TaskState.Retry;
      task.lastError = reason;
    });
    if (!undone) return;
    this.rules.storage.announce(this.task);
    this.retryInMs = delayMs;
    this.msg.nak(delayMs);
  }

  /** Ends the task as `cancelled` (final, never retried) and removes the work item. */
  cancel(): Promise<void> {
    return this.settle(TaskState.Cancelled, "cancelled");
  }

  /**
   * Stores reported progress in the task's record and publishes a progress event; ignored once
   * the try has ended. @throws ValidationError when the value is not JSON-serialisable or too large.
   */
  async progress(value: unknown): Promise<void> {
    if (this.settled) return;
    try {
      JSON.stringify(value);
    } catch (err) {
      throw new ValidationError("invalid_progress", `progress must be JSON-serialisable: ${errorMessage(err)}`);
    }
    const { storage } = this.rules;
    const before = this.task.progress;
    this.task.progress = value;
    let data: Uint8Array;
    try {
      data = storage.encode(this.task);
    } catch (err) {
      this.task.progress = before;
      throw err;
    }
    // The record carries the progress from now on, so the `active` record need not be written separately.
    this.activeRecorded = true;
    await storage.saveRecord(this.task, data);
    storage.publishProgressEvent(this.task, value);
    this.rules.storage.observer?.taskReport?.(this.task, "progress");
  }

  /** Appends a line to the task's log and publishes a log event. @throws ValidationError for a non-string */
  async appendLog(line: string): Promise<void> {
    if (typeof line !== "string") throw new ValidationError("invalid_log_line", "a log line must be a string");
    const { storage } = this.rules;
    const stored = await storage.logs.append(this.task.id, line);
    storage.publishLogEvent(this.task, stored);
    this.rules.storage.observer?.taskReport?.(this.task, "log");
  }

  /** Tells JetStream the item is still being worked on (resets its ack wait). */
  keepAlive(): void {
    if (!this.settled && !this.abandoned) touch(this.msg);
  }

  /** Records the result and removes the work item. */
  complete(value: unknown): Promise<void> {
    this.task.result = { value, completedAt: Date.now() };
    return this.settle(TaskState.Complete);
  }

  /**
   * Records a failed try: {@link TerminateTask} ends the task, the last allowed try expires it,
   * anything else schedules a retry after the retry policy's delay (or `delayMs` when given).
   */
  async fail(err: unknown, delayMs?: number): Promise<void> {
    if (this.settled) return;
    const msg = errorMessage(err);
    this.rules.log.warn("task try failed", {
      task: this.task.id,
      type: this.task.type,
      try: this.task.tries,
      error: msg,
    });
    noteFailure(this.task, msg);
    if (err instanceof TerminateTask) return this.settle(TaskState.Terminated, msg);
    if (this.task.tries >= maxTries(this.task, this.rules.queue)) return this.settle(TaskState.Expired, msg);
    this.end();
    const { storage } = this.rules;
    this.task.state = TaskState.Retry;
    this.task.lastError = msg;
    await this.persist(() => storage.saveRecord(this.task));
    storage.announce(this.task);
    this.retryInMs = delayMs ?? this.rules.retryPolicy.delayMs(this.task.tries);
    this.msg.nak(this.retryInMs);
    this.endSpan(msg);
  }

  private async settle(state: TaskState, error?: string): Promise<void> {
    if (!this.end()) return;
    await finish(this.task, this.msg, this.rules, state, error, (write) => this.persist(write));
    this.endSpan(state === TaskState.Complete || state === TaskState.Cancelled ? undefined : error);
  }
}

/** The tries a task gets: its own limit capped by the queue's. */
export function maxTries(task: Task, queue: ResolvedQueue): number {
  return task.maxTries > 0 ? Math.min(task.maxTries, queue.maxTries) : queue.maxTries;
}

/**
 * Settles a task in a final state. A task that failed for good is dead-lettered first (when its
 * queue keeps dead letters), so a crash at any point leaves the entry in place: the redelivered
 * item only rewrites it. Then the final record, then the item's acknowledgement.
 */
async function finish(
  task: Task,
  m: JsMsg,
  rules: AttemptRules,
  state: TaskState,
  error?: string,
  persist: (write: () => Promise<unknown>) => Promise<void> = async (write) => {
    await write();
  },
): Promise<void> {
  const { storage } = rules;
  task.state = state;
  if (error !== undefined) task.lastError = error;
  const deadLetter = rules.queue.deadLetters ? deadLetterReason(state) : undefined;
  const record = () => (rules.discard.has(state) ? storage.saveTombstone(task) : storage.saveRecord(task));
  await persist(
    deadLetter
      ? async () => {
          await writeDeadLetter(storage, rules.queue, task, deadLetter);
          await record();
        }
      : record,
  );
  m.ack();
  storage.announce(task);
  if (deadLetter)
    storage.publishQueueEvent(task.queue, "dead_lettered", { taskId: task.id, detail: { reason: deadLetter } });
}

/**
 * Hands a delivered work item back unstarted (e.g. buffered when a worker stops) so that its
 * redelivery does not count as a try: the release is recorded on the task's record first.
 * Anything that fails along the way still releases the item (it may then count one try).
 */
export async function releaseDelivery(m: JsMsg, rules: AttemptRules): Promise<void> {
  try {
    const sent = decodeTask(m.data);
    const rec = await rules.storage.recordFor(sent.id);
    if (!deliveryIsStale(rec, sent.run ?? 0)) {
      const task = rec.kind === "task" && (rec.task.run ?? 0) === (sent.run ?? 0) ? rec.task : sent;
      task.releases = (task.releases ?? 0) + 1;
      await rules.storage.saveRecord(task);
    }
  } catch (err) {
    rules.log.warn("releasing a work item without recording it", { subject: m.subject, error: errorMessage(err) });
  }
  m.nak();
}

/**
 * Starts a try of a delivered work item. Returns undefined when the item must not run, after
 * settling it: corrupt items are logged (with their content) and removed; tasks already finished
 * (a redelivery after a crash, a replayed item) are acknowledged; tasks past their deadline or out
 * of tries expire; unverifiable ones are terminated; cancelled ones are cancelled. Otherwise the
 * task is marked `active` (event) and an {@link Attempt} is returned. `prefetched` carries what the
 * intake already decoded and read for the delivery (its task, and its record when read less than
 * {@link RECORD_FRESH_MS} ago); what is missing is read here.
 * @throws StorageError when the record cannot be read; the item is then left for redelivery.
 */
export async function beginAttempt(
  m: JsMsg,
  rules: AttemptRules,
  prefetched: { task?: Task; record?: StoredRecord; readAt?: number } = {},
): Promise<Attempt | undefined> {
  const { storage, log, queue } = rules;
  let task: Task;
  try {
    task = prefetched.task ?? decodeTask(m.data);
  } catch (err) {
    log.error("dropping a corrupt work item", {
      subject: m.subject,
      seq: m.seq,
      error: errorMessage(err),
      data: Buffer.from(m.data.subarray(0, 4096)).toString("base64"),
    });
    m.ack();
    return undefined;
  }
  if (rules.verifier) {
    const { key, optional } = rules.verifier;
    const problem =
      task.signature === undefined
        ? optional
          ? undefined
          : "task is not signed"
        : verifyTask(task, key)
          ? undefined
          : "invalid task signature";
    if (problem) {
      log.warn("terminating a task that failed signature verification", { task: task.id, reason: problem });
      await finish(task, m, rules, TaskState.Terminated, problem);
      return undefined;
    }
  }
  if (rules.cancels?.has(task.id)) {
    await finish(task, m, rules, TaskState.Cancelled, "cancelled");
    return undefined;
  }
  // The record says whether this task already finished — a redelivery after a crash, or a work
  // item replayed by anyone with access to the work subjects — whatever the delivery count: a
  // finished task never runs again (only a later run of it, see `Task.run`).
  const fresh = prefetched.record && Date.now() - (prefetched.readAt ?? 0) < RECORD_FRESH_MS;
  const stored = fresh ? prefetched.record! : await storage.recordFor(task.id);
  if (deliveryIsStale(stored, task.run ?? 0)) {
    m.ack();
    return undefined;
  }
  const rec = stored.kind === "task" && (stored.task.run ?? 0) === (task.run ?? 0) ? stored.task : undefined;
  if (rec || m.info.deliveryCount > 1) {
    // The record knows the tries made so far. Deliveries bound them from below, so a task whose
    // handler kills its worker before any record is written still runs out of tries instead of
    // looping forever. Deliveries handed back unstarted are recorded as releases and do not count,
    // and one unexplained delivery is forgiven (a worker stopped with items it had pulled but could
    // not hand back).
    const releases = rec?.releases ?? 0;
    task.tries = Math.max(rec?.tries ?? 0, m.info.deliveryCount - 2 - releases);
    if (releases) task.releases = releases;
    if (rec?.lastError !== undefined) task.lastError = rec.lastError;
    if (rec?.failures) task.failures = rec.failures;
  }
  const now = Date.now();
  if (task.deadline !== undefined && now > task.deadline) {
    await finish(task, m, rules, TaskState.Expired, "past deadline");
    return undefined;
  }
  if (task.tries >= maxTries(task, queue)) {
    await finish(task, m, rules, TaskState.Expired, "exceeded maximum tries");
    return undefined;
  }
  task.state = TaskState.Active;
  task.tries++;
  task.lastTriedAt = now;
  storage.announce(task);
  return new Attempt(task, m, rules);
}
