import type { KeyObject } from "node:crypto";
import type { Logger } from "../logger.js";
import type { AttemptRules } from "./attempt.js";
import { Cancellations, cancelTask } from "./cancellations.js";
import { DeadLetters } from "./dead-letters.js";
import { DelayedTasks } from "./delayed-tasks.js";
import { Dependencies } from "./dependencies.js";
import { type DurablePublisher, Enqueuer } from "./enqueuer.js";
import { Idempotency } from "./idempotency.js";
import type { ResolvedQueue } from "./queue.js";
import { QueueControlCommands } from "./queue-controls.js";
import { type RetryPolicy, resolveRetryPolicy } from "./retry-policy.js";
import { type SigningOptions, signerOf, type VerificationOptions, type Verifier, verifierOf } from "./signing.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { RateLimiter } from "./storage/rate-limiter.js";
import type { Task, TaskState } from "./task.js";

/**
 * How tasks are run, whichever face takes them (a library worker, HTTP `/wait`): the same options
 * on a `Client` and on `jetq serve` give the same records, events and metrics.
 */
export interface RunRuleOptions extends VerificationOptions {
  /**
   * Back-off between tries: a policy, a name (`"1m"`, `"10m"`, `"1h"`, `"exponential"`) or a
   * function of the try count returning ms. @defaultValue `"10m"` (linear, 1 to 10 minutes, jittered)
   */
  retryPolicy?: RetryPolicy | string | ((tries: number) => number);
  /** Final states whose task records are discarded instead of kept. @defaultValue none */
  discard?: TaskState[];
}

/** Parameters of {@link TaskEngine}. */
export interface TaskEngineParams extends RunRuleOptions, SigningOptions {
  storage: JetStreamStorage;
  log: Logger;
  /** Queue of tasks enqueued without one. @defaultValue none: a task must name its queue */
  defaultQueue?: string;
  /** Enqueue through this durable buffer (the outbox). @defaultValue straight to JetStream */
  outbox?: DurablePublisher;
}

/**
 * The parts of jetq's task handling on one storage, made once and shared by everything that owns
 * them — a `Client`, or `jetq serve` (its HTTP gateway, resolver, cron and scheduler fires): the
 * one {@link Enqueuer}, delayed tasks, dependencies, idempotency keys, dead letters, queue
 * controls, cancellation requests, the rate limiter, and {@link rulesFor}, the one place a queue's
 * run rules are built. Nothing here looks anything up per storage: what a part needs it is given.
 */
export class TaskEngine {
  readonly storage: JetStreamStorage;
  readonly delayed: DelayedTasks;
  readonly dependencies: Dependencies;
  readonly idempotency: Idempotency;
  readonly enqueuer: Enqueuer;
  readonly deadLetters: DeadLetters;
  /** The signing key of one enqueue call, or undefined when tasks are not signed. */
  readonly signer: () => KeyObject | undefined;
  private readonly retryPolicy: RetryPolicy;
  private readonly discard: ReadonlySet<TaskState>;
  private readonly verifier?: Verifier;
  private cancels?: Promise<Cancellations>;
  private controlsOpen?: Promise<QueueControlCommands>;
  private limiter?: Promise<RateLimiter>;

  /** @throws ConfigError (unreadable or invalid keys), ValidationError (unknown retry policy name) */
  constructor(private readonly p: TaskEngineParams) {
    this.storage = p.storage;
    this.signer = signerOf(p);
    this.verifier = verifierOf(p);
    this.retryPolicy = resolveRetryPolicy(p.retryPolicy);
    this.discard = new Set(p.discard ?? []);
    this.delayed = new DelayedTasks(p.storage, p.log);
    this.dependencies = new Dependencies(p.storage);
    this.idempotency = new Idempotency(p.storage, this.delayed, p.log);
    this.enqueuer = new Enqueuer({
      storage: p.storage,
      log: p.log,
      ...(p.defaultQueue !== undefined ? { defaultQueue: p.defaultQueue } : {}),
      signer: this.signer,
      delayed: this.delayed,
      dependencies: this.dependencies,
      idempotency: this.idempotency,
      ...(p.outbox ? { outbox: p.outbox } : {}),
    });
    this.deadLetters = new DeadLetters({ storage: p.storage, enqueuer: this.enqueuer, signingKey: this.signer });
  }

  /** Cancellation requests, opened once and followed (so `has()` knows every request). */
  cancellations(): Promise<Cancellations> {
    this.cancels ??= Cancellations.open(this.storage).then(async (c) => {
      await c.listen(() => undefined);
      return c;
    });
    this.cancels.catch(() => {
      this.cancels = undefined;
    });
    return this.cancels;
  }

  /** The queue controls (pause, rate limit, hold) as operations, opened once. */
  controls(): Promise<QueueControlCommands> {
    this.controlsOpen ??= QueueControlCommands.open(this.storage);
    this.controlsOpen.catch(() => {
      this.controlsOpen = undefined;
    });
    return this.controlsOpen;
  }

  /** The queue-wide rate limiter, opened once. */
  rateLimiter(): Promise<RateLimiter> {
    this.limiter ??= this.storage.bucket("rates").then((kv) => new RateLimiter(kv));
    this.limiter.catch(() => {
      this.limiter = undefined;
    });
    return this.limiter;
  }

  /** How tasks of `queue` are run: the same for every face of this owner. */
  async rulesFor(queue: ResolvedQueue): Promise<AttemptRules> {
    return {
      storage: this.storage,
      queue,
      retryPolicy: this.retryPolicy,
      discard: this.discard,
      log: this.p.log.child({ queue: queue.name }),
      cancels: await this.cancellations(),
      ...(this.verifier ? { verifier: this.verifier } : {}),
    };
  }

  /**
   * Cancels a task (see `Client.cancelTask`).
   * @throws NotFoundError (`task_not_found`), StateError (`task_finished`)
   */
  async cancelTask(id: string): Promise<Task> {
    return cancelTask(this.storage, await this.cancellations(), this.delayed, id);
  }

  /**
   * Runs a task again from scratch (a new run, tries reset to 0), removing any work item it still
   * has. @throws NotFoundError (`task_not_found`)
   */
  async retryTask(id: string): Promise<Task> {
    const task = await this.storage.loadTask(id);
    await this.storage.removeWorkItem(task.queue, id);
    return this.enqueuer.restart(task, `${id}:retry:${Date.now()}`);
  }

  /** Stops following cancellation requests. */
  async stop(): Promise<void> {
    const c = this.cancels;
    this.cancels = undefined;
    await (await c?.catch(() => undefined))?.stop();
  }
}
