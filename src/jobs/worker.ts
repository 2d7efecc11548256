import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../logger.js";
import { RunTimeExceededError, TerminateTask } from "./handler-errors.js";
import { ackWaitMs, type ResolvedQueue } from "./queue.js";
import type { RetryPolicy } from "./retry-policy.js";
import type { Router } from "./router.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { queueStream, WORKER_CONSUMER } from "./storage/layout.js";
import { decodeTask } from "./storage/task-codec.js";
import { isFinalState, type Task, TaskState } from "./task.js";

/** Everything a {@link Worker} needs; built by `Client.run`. */
export interface WorkerParams {
  storage: JetStreamStorage;
  queue: ResolvedQueue;
  router: Router;
  /** Handlers run at once in this process (the queue's maxConcurrent caps all processes together). */
  concurrency: number;
  retryPolicy: RetryPolicy;
  /** Final states whose records are replaced by a tombstone instead of kept. */
  discard: ReadonlySet<TaskState>;
  /** How long `stop()` lets running handlers finish before aborting them. */
  shutdownTimeoutMs: number;
  log: Logger;
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Pulls a queue's work items and runs them through a router: one JetStream pull consumer
 * shared by every worker of the queue, `concurrency` handlers at a time in this process.
 */
export class Worker {
  private messages?: ConsumerMessages;
  private stopping = false;
  private loop?: Promise<void>;
  private readonly running = new Map<string, AbortController>();
  private readonly inProgress = new Set<Promise<void>>();
  private free: number;
  private waiters: (() => void)[] = [];
  private markStopped!: () => void;
  /** Resolves once {@link stop} has finished. */
  readonly stopped = new Promise<void>((resolve) => {
    this.markStopped = resolve;
  });

  constructor(private readonly p: WorkerParams) {
    this.free = p.concurrency;
  }

  /** Starts pulling and handling work. */
  start(): void {
    this.loop ??= this.pullLoop();
  }

  /**
   * Stops taking work, waits up to `shutdownTimeoutMs` for running handlers, then aborts the rest
   * (their tries fail and they are retried by another worker).
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    await this.messages?.close().catch(() => undefined);
    for (const w of this.waiters.splice(0)) w();
    const timer = setTimeout(() => {
      for (const c of this.running.values()) c.abort(new Error("worker shut down"));
    }, this.p.shutdownTimeoutMs);
    await this.loop;
    await Promise.allSettled([...this.inProgress]);
    clearTimeout(timer);
    this.markStopped();
  }

  private async acquire(): Promise<void> {
    while (this.free === 0 && !this.stopping) await new Promise<void>((r) => this.waiters.push(r));
    this.free--;
  }

  private release(): void {
    this.free++;
    this.waiters.shift()?.();
  }

  private async pullLoop(): Promise<void> {
    const { storage, queue, log } = this.p;
    while (!this.stopping) {
      try {
        const consumer = await storage.js.consumers.get(queueStream(queue.name), WORKER_CONSUMER);
        this.messages = await consumer.consume({ max_messages: this.p.concurrency });
        if (this.stopping) await this.messages.close();
        for await (const m of this.messages) {
          if (this.stopping) {
            m.nak();
            continue;
          }
          await this.acquire();
          const job = this.process(m).finally(() => this.inProgress.delete(job));
          this.inProgress.add(job);
        }
      } catch (err) {
        if (this.stopping) break;
        log.error("work queue consumer failed; retrying in 1s", { queue: queue.name, error: errorMessage(err) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * Handles one work item. The concurrency slot is given back as soon as the handler returns;
   * recording the outcome (bounded by the consumer's max ack pending) overlaps the next handler.
   */
  private async process(m: JsMsg): Promise<void> {
    let held = true;
    const free = () => {
      if (held) {
        held = false;
        this.release();
      }
    };
    try {
      await this.handle(m, free);
    } finally {
      free();
    }
  }

  private async handle(m: JsMsg, free: () => void): Promise<void> {
    const { log } = this.p;
    let task: Task;
    try {
      task = decodeTask(m.data);
    } catch (err) {
      // Logged with its content so nothing is silently lost, then removed so it cannot block the queue.
      log.error("dropping a corrupt work item", {
        subject: m.subject,
        seq: m.seq,
        error: errorMessage(err),
        data: Buffer.from(m.data.subarray(0, 4096)).toString("base64"),
      });
      m.ack();
      return;
    }
    try {
      if (m.info.deliveryCount > 1 && !(await this.resume(task, m))) return;
      await this.run(task, m, free);
    } catch (err) {
      // Storage failed while recording an outcome: leave the item unacknowledged so it is redelivered.
      log.error("could not record a task outcome; it will be redelivered", { task: task.id, error: errorMessage(err) });
      m.nak(1000);
    }
  }

  /** On redelivery, picks up tries from the record; false when the task already finished. */
  private async resume(task: Task, m: JsMsg): Promise<boolean> {
    const rec = await this.p.storage.loadRecord(task.id);
    if (rec === null || (rec && isFinalState(rec.state))) {
      m.ack();
      return false;
    }
    if (rec) {
      task.tries = rec.tries;
      if (rec.lastError !== undefined) task.lastError = rec.lastError;
    }
    return true;
  }

  private maxTries(task: Task): number {
    const q = this.p.queue.maxTries;
    return task.maxTries > 0 ? Math.min(task.maxTries, q) : q;
  }

  private async run(task: Task, m: JsMsg, free: () => void): Promise<void> {
    const { queue, storage, log } = this.p;
    const now = Date.now();
    if (task.deadline !== undefined && now > task.deadline)
      return this.finish(task, m, TaskState.Expired, "past deadline");
    if (task.tries >= this.maxTries(task)) return this.finish(task, m, TaskState.Expired, "exceeded maximum tries");

    task.state = TaskState.Active;
    task.tries++;
    task.lastTriedAt = now;
    storage.saveRecordQuietly(task);
    storage.publishEvents(task);

    const ctl = new AbortController();
    this.running.set(task.id, ctl);
    const runDeadline = now + queue.maxRunTimeMs;
    const beat = setInterval(() => m.working(), Math.max(50, ackWaitMs(queue) / 2));
    const overtime = setTimeout(() => ctl.abort(new RunTimeExceededError(queue.maxRunTimeMs)), queue.maxRunTimeMs);
    const aborted = new Promise<never>((_, reject) =>
      ctl.signal.addEventListener("abort", () => reject(ctl.signal.reason), { once: true }),
    );
    let result: unknown;
    let failure: unknown;
    try {
      const handler = this.p.router.handlerFor(task.type);
      const ctx = { log: log.child({ task: task.id, type: task.type }), signal: ctl.signal, runDeadline };
      result = await Promise.race([Promise.resolve().then(() => handler(task, ctx)), aborted]);
    } catch (err) {
      failure = err;
    } finally {
      clearInterval(beat);
      clearTimeout(overtime);
      this.running.delete(task.id);
      free();
    }

    if (failure === undefined) {
      task.result = { value: result, completedAt: Date.now() };
      return this.finish(task, m, TaskState.Complete);
    }
    const msg = errorMessage(failure);
    if (failure instanceof TerminateTask) return this.finish(task, m, TaskState.Terminated, msg);
    if (task.tries >= this.maxTries(task)) return this.finish(task, m, TaskState.Expired, msg);
    task.state = TaskState.Retry;
    task.lastError = msg;
    await storage.saveRecord(task);
    storage.publishEvents(task);
    m.nak(this.p.retryPolicy.delayMs(task.tries));
  }

  private async finish(task: Task, m: JsMsg, state: TaskState, error?: string): Promise<void> {
    const { storage } = this.p;
    task.state = state;
    if (error !== undefined) task.lastError = error;
    if (this.p.discard.has(state)) await storage.saveTombstone(task.id);
    else await storage.saveRecord(task);
    m.ack();
    storage.publishEvents(task);
  }
}
