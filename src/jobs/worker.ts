import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { type Attempt, type AttemptRules, beginAttempt, releaseDelivery } from "./attempt.js";
import { RunTimeExceededError } from "./handler-errors.js";
import { ackWaitMs } from "./queue.js";
import type { Router } from "./router.js";
import { DEFAULT_PRIORITY, levelConsumer, queueStream } from "./storage/layout.js";

/** Everything a {@link Worker} needs; built by `Client.run`. */
export interface WorkerParams extends AttemptRules {
  router: Router;
  /** Handlers run at once in this process (the queue's maxConcurrent caps all processes together). */
  concurrency: number;
  /** How long `stop()` lets running handlers finish before aborting them. */
  shutdownTimeoutMs: number;
}

/** A try still running after this long gets its `active` record written. */
const ACTIVE_RECORD_DELAY_MS = 100;

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
    // Stop pulling; what was already pulled is still yielded to the loop, which hands it back.
    this.messages?.stop();
    for (const w of this.waiters.splice(0)) w();
    const timer = setTimeout(() => {
      for (const c of this.running.values()) c.abort(new Error("worker shut down"));
    }, this.p.shutdownTimeoutMs);
    await this.loop;
    await Promise.allSettled([...this.inProgress]);
    clearTimeout(timer);
    this.markStopped();
  }

  /** Waits for a free handler slot and takes it; returns without one once the worker is stopping. */
  private async acquire(): Promise<void> {
    while (this.free === 0 && !this.stopping) await new Promise<void>((r) => this.waiters.push(r));
    if (!this.stopping) this.free--;
  }

  private release(): void {
    this.free++;
    this.waiters.shift()?.();
  }

  private async pullLoop(): Promise<void> {
    const { storage, queue, log } = this.p;
    while (!this.stopping) {
      try {
        const consumer = await storage.js.consumers.get(queueStream(queue.name), levelConsumer(DEFAULT_PRIORITY));
        this.messages = await consumer.consume({ max_messages: this.p.concurrency });
        if (this.stopping) this.messages.stop();
        for await (const m of this.messages) {
          if (!this.stopping) await this.acquire();
          if (this.stopping) {
            // Pulled but never started: hand it back without using up a try.
            const job = releaseDelivery(m, this.p).finally(() => this.inProgress.delete(job));
            this.inProgress.add(job);
            continue;
          }
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
    const { queue, log } = this.p;
    let attempt: Attempt | undefined;
    try {
      attempt = await beginAttempt(m, this.p, { deferActiveRecord: true });
    } catch (err) {
      log.error("could not start a task; it will be redelivered", { subject: m.subject, error: errorMessage(err) });
      m.nak(1000);
      return;
    }
    if (!attempt) return;
    const { task } = attempt;
    const ctl = new AbortController();
    this.running.set(task.id, ctl);
    const runDeadline = (task.lastTriedAt ?? Date.now()) + queue.maxRunTimeMs;
    const beat = setInterval(() => attempt.keepAlive(), Math.max(50, ackWaitMs(queue) / 2));
    // Most handlers finish in milliseconds; only a try that lasts gets an `active` record.
    const active = setTimeout(() => attempt.recordActive(), ACTIVE_RECORD_DELAY_MS);
    const overtime = setTimeout(() => ctl.abort(new RunTimeExceededError(queue.maxRunTimeMs)), queue.maxRunTimeMs);
    const aborted = new Promise<never>((_, reject) =>
      ctl.signal.addEventListener("abort", () => reject(ctl.signal.reason), { once: true }),
    );
    let result: unknown;
    let failure: unknown;
    let failed = false;
    const t0 = performance.now();
    try {
      const handler = this.p.router.handlerFor(task.type);
      const ctx = { log: log.child({ task: task.id, type: task.type }), signal: ctl.signal, runDeadline };
      result = await Promise.race([Promise.resolve().then(() => handler(task, ctx)), aborted]);
    } catch (err) {
      failed = true;
      failure = err;
    } finally {
      clearInterval(beat);
      clearTimeout(active);
      clearTimeout(overtime);
      this.running.delete(task.id);
      free();
    }
    this.p.observer?.handlerDone(task, (performance.now() - t0) / 1000, !failed);
    try {
      if (failed) await attempt.fail(failure);
      else await attempt.complete(result);
    } catch (err) {
      // Storage failed while recording the outcome: leave the item unacknowledged so it is redelivered.
      log.error("could not record a task outcome; it will be redelivered", { task: task.id, error: errorMessage(err) });
      m.nak(1000);
    }
  }
}
