import type { NatsConnection } from "@nats-io/nats-core";
import { ValidationError } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { connectNats, type NatsOptions } from "../nats/connect.js";
import type { DeadLetters } from "./dead-letters.js";
import type { DurablePublisher, EnqueueOptions } from "./enqueuer.js";
import { allEvents, type EventStream, taskEvents } from "./event-stream.js";
import type { JetqEvent } from "./events.js";
import { validateQueueName } from "./names.js";
import { DEFAULT_QUEUE, type QueueConfig, type ResolvedQueue } from "./queue.js";
import type { QueueControls, RateLimit } from "./queue-controls.js";
import type { Router } from "./router.js";
import { ScheduledTasks } from "./scheduled-tasks.js";
import type { SigningOptions } from "./signing.js";
import { JetStreamStorage, type StorageOptions } from "./storage/jetstream-storage.js";
import {
  type QueueChanges,
  type QueueUpdateOptions,
  type QueueUpdateResult,
  updateQueue,
  warnQueueDifferences,
} from "./storage/queue-update.js";
import type { Task } from "./task.js";
import { type RunRuleOptions, TaskEngine } from "./task-engine.js";
import { combineObservers, type TaskObserver } from "./task-observer.js";
import { Worker, type WorkerQueue } from "./worker.js";

export type { DurablePublisher } from "./enqueuer.js";

/** Options of {@link Client.connect}. Connection fields are those of {@link NatsOptions}. */
export interface ClientOptions extends NatsOptions, StorageOptions, RunRuleOptions, SigningOptions {
  /** Use this connection instead of opening one; the client then never closes it. */
  connection?: NatsConnection;
  /**
   * The queue this client enqueues to and works on: a definition (created when missing) or the
   * name of an existing queue. @defaultValue `"DEFAULT"` (created with default settings)
   */
  queue?: QueueConfig | string;
  /** Handlers run at once by `run()` in this process. @defaultValue 10 */
  concurrency?: number;
  /** Skip creating streams and the queue: bind to what exists. @defaultValue false */
  skipStorageInit?: boolean;
  /** How long `run()` lets handlers finish after its signal aborts. @defaultValue 30_000 ms */
  shutdownTimeoutMs?: number;
  /** Where jetq logs. @defaultValue pino on stderr, level from `JETQ_LOG_LEVEL` or `info` */
  logger?: Logger;
  /**
   * Enqueue through this durable buffer (e.g. `new OutboxPublisher(...)` from `jetq/outbox`):
   * `enqueue` resolves once the task is on local disk, and reaches JetStream when NATS is
   * reachable. Tasks may name only this client's queue or queues it already used. No `new` event
   * is published for them. @defaultValue off
   */
  outbox?: DurablePublisher;
  /** Told about every task state change and handler run (e.g. a `JetqMetrics`). */
  observer?: TaskObserver;
  /**
   * Serve Prometheus metrics on this port (0 = any free port) at `/metrics`; `metricsUrl` tells
   * where. Loads prom-client only when set. @defaultValue off
   */
  metricsPort?: number;
  /** Address of the metrics server. @defaultValue `"127.0.0.1"` */
  metricsHost?: string;
}

/** Options of {@link Client.run}. */
export interface RunOptions {
  /** Abort to stop: no new work is taken and running handlers get `shutdownTimeoutMs` to finish. */
  signal?: AbortSignal;
  /**
   * Serve these existing queues instead of the client's own, with relative weights (asynq style):
   * `{ critical: 6, default: 3, low: 1 }` gives a free slot to `critical` 60% of the time when all
   * three have work. A list of names weighs them equally. @defaultValue the client's queue
   */
  queues?: Record<string, number> | string[];
  /** Serve `queues` strictly by weight: a heavier queue with work always goes first. @defaultValue false */
  strict?: boolean;
}

/** Administrative access to storage: queues, task records, purges. */
export type Admin = Pick<
  JetStreamStorage,
  | "queueNames"
  | "queueInfo"
  | "peek"
  | "purgeQueue"
  | "deleteQueue"
  | "prepareQueue"
  | "getQueue"
  | "tasks"
  | "tasksInfo"
  | "deleteTask"
>;

/** The queues and weights of a `run()`. @throws ValidationError (`invalid_weight`) */
function runWeights(queues: RunOptions["queues"], own: string): [string, number][] {
  if (queues === undefined) return [[own, 1]];
  const entries: [string, number][] = Array.isArray(queues) ? queues.map((q) => [q, 1]) : Object.entries(queues);
  if (entries.length === 0) throw new ValidationError("invalid_weight", "run() needs at least one queue");
  for (const [name, weight] of entries) {
    validateQueueName(name);
    if (!Number.isFinite(weight) || weight <= 0)
      throw new ValidationError(
        "invalid_weight",
        `the weight of queue ${name} must be a positive number, got ${weight}`,
      );
  }
  return entries;
}

/**
 * Connects producers and workers to jetq's storage on NATS JetStream.
 *
 * ```ts
 * const client = await Client.connect({ servers: "nats://127.0.0.1:4222", queue: "emails" });
 * await client.enqueue(newTask("email:send", { to: "a@example.net" }));
 * ```
 */
export class Client {
  /** Storage administration (queues, records). */
  readonly admin: Admin;
  /**
   * Dead letters of every queue: list, inspect, redrive, purge (docs/dead-letters.md). Redriven
   * tasks whose past deadline is dropped are signed again with this client's signing key.
   */
  readonly deadLetters: DeadLetters;
  /** This client's enqueue path, run rules, controls and cancellations. */
  readonly engine: TaskEngine;
  private readonly workers = new Set<Worker>();
  private metricsServer?: { url: string; stop(): Promise<void> };

  private constructor(
    readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    readonly storage: JetStreamStorage,
    /** The queue this client is bound to. */
    readonly queue: ResolvedQueue,
    private readonly opts: ClientOptions,
    readonly log: Logger,
  ) {
    this.admin = storage;
    if (opts.observer) storage.observer = opts.observer;
    this.engine = new TaskEngine({ ...opts, storage, log, defaultQueue: queue.name });
    this.deadLetters = this.engine.deadLetters;
  }

  /** Named task schedules (cron / `@every`); a `TaskScheduler` (e.g. in `jetq serve`) fires them. */
  async scheduledTasks(): Promise<ScheduledTasks> {
    return new ScheduledTasks(await this.storage.configBucket());
  }

  /** Where Prometheus metrics are served, when `metricsPort` was set. */
  get metricsUrl(): string | undefined {
    return this.metricsServer?.url;
  }

  private async startMetrics(port: number): Promise<void> {
    const { JetqMetrics } = await import("../metrics/jetq-metrics.js");
    const { MetricsServer } = await import("../metrics/metrics-server.js");
    const metrics = new JetqMetrics(this.storage);
    const server = new MetricsServer({ metrics, port, host: this.opts.metricsHost ?? "127.0.0.1", log: this.log });
    await server.start();
    this.metricsServer = server;
    this.storage.observer = combineObservers(metrics, this.opts.observer);
  }

  /** Connects (or uses `connection`), prepares storage and the queue, and returns a ready client. */
  static async connect(opts: ClientOptions = {}): Promise<Client> {
    const log = opts.logger ?? createLogger();
    const concurrency = opts.concurrency ?? 10;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ValidationError("invalid_concurrency", `concurrency must be a positive integer, got ${concurrency}`);
    }
    const qc: QueueConfig =
      typeof opts.queue === "string" ? { name: opts.queue } : (opts.queue ?? { name: DEFAULT_QUEUE });
    validateQueueName(qc.name);
    const nc = opts.connection ?? (await connectNats(opts));
    try {
      const storage = await JetStreamStorage.open(nc, opts, log);
      let queue: ResolvedQueue;
      if (opts.skipStorageInit) queue = await storage.getQueue(qc.name);
      else {
        await storage.prepare();
        queue = await storage.prepareQueue(qc);
      }
      if (typeof opts.queue === "object") warnQueueDifferences(log, opts.queue, queue);
      const client = new Client(nc, !opts.connection, storage, queue, opts, log);
      if (opts.metricsPort !== undefined) await client.startMetrics(opts.metricsPort);
      return client;
    } catch (err) {
      if (!opts.connection) await nc.close();
      throw err;
    }
  }

  /**
   * Writes a task to a queue (this client's unless `queue` or `task.queue` names another).
   * Enqueuing the same task id twice within the de-duplication window stores it once. A task whose
   * `runAt` lies ahead is stored as `delayed` and put in its queue by the scheduler at that time.
   * With `dedupe`, an enqueue within the window of an idempotency key already claimed creates no task
   * and resolves with the task holding the key (its id differs from `task.id`); see docs/idempotency.md.
   * @throws ValidationError (`payload_too_large`, `invalid_run_at`, `invalid_dedupe_*`, `unsupported`),
   * NotFoundError (`queue_not_found`), StorageError
   */
  async enqueue<T extends Task>(task: T, opts: EnqueueOptions = {}): Promise<T> {
    return (await this.engine.enqueuer.enqueue(task, opts)).task;
  }

  /**
   * Enqueues many tasks with pipelined publishes (thousands in flight, not one round trip each).
   * Resolves when every task is stored; if any failed, rejects with an {@link AggregateError} whose
   * `errors` hold the failures (the other tasks are stored).
   */
  enqueueMany<T extends Task>(tasks: T[], opts: { queue?: string } = {}): Promise<T[]> {
    return this.engine.enqueuer.enqueueMany(tasks, opts);
  }

  /**
   * Loads a task by id; with `logs: true` also the lines its handlers appended (`task.logs`).
   * A task that has not started has no record yet: it is found by its work item, in `queue` first
   * when given (else in this client's queue first).
   * @throws NotFoundError (`task_not_found`)
   */
  async loadTask(id: string, opts: { logs?: boolean; queue?: string } = {}): Promise<Task> {
    const task = await this.storage.loadTask(id, opts.queue ?? this.queue.name);
    if (opts.logs) task.logs = await this.storage.logs.read(id);
    return task;
  }

  /**
   * Runs a task again from scratch (a new run, tries reset to 0), removing any work item it still
   * has. @throws NotFoundError (`task_not_found`)
   */
  retryTask(id: string): Promise<Task> {
    return this.engine.retryTask(id);
  }

  /**
   * Changes an existing queue's settings: what JetStream can change in place is applied at once,
   * then the stored definition is replaced (see {@link updateQueue} for what applies when).
   * @throws ValidationError, StateError (`queue_setting_immutable`, `queue_update_drops_tasks`),
   * NotFoundError (`queue_not_found`), StorageError
   */
  updateQueue(name: string, changes: QueueChanges, opts?: QueueUpdateOptions): Promise<QueueUpdateResult> {
    return updateQueue(this.storage, name, changes, opts);
  }

  /** Deletes a task's record and its queued work item. @throws NotFoundError */
  deleteTask(id: string): Promise<void> {
    return this.storage.deleteTask(id);
  }

  /**
   * Processes this client's queue (or `opts.queues`) with `router` until `signal` aborts (or
   * {@link close}), then drains gracefully. Resolves once stopped.
   * @throws ValidationError (`invalid_weight`), NotFoundError (`queue_not_found`)
   */
  async run(router: Router, opts: RunOptions = {}): Promise<void> {
    const weights = runWeights(opts.queues, this.queue.name);
    const queues: WorkerQueue[] = [];
    for (const [name, weight] of weights)
      queues.push({ rules: await this.engine.rulesFor(await this.storage.getQueue(name)), weight });
    const worker = new Worker({
      router,
      queues,
      strict: opts.strict ?? false,
      concurrency: this.opts.concurrency ?? 10,
      shutdownTimeoutMs: this.opts.shutdownTimeoutMs ?? 30_000,
      controls: await this.engine.controls(),
      limiter: () => this.engine.rateLimiter(),
      cancels: await this.engine.cancellations(),
      log: this.log,
    });
    const { signal } = opts;
    if (signal?.aborted) return;
    this.workers.add(worker);
    signal?.addEventListener("abort", () => void worker.stop(), { once: true });
    await worker.start();
    await worker.stopped;
    this.workers.delete(worker);
  }

  private controls() {
    return this.engine.controls();
  }

  /** The runtime controls of a queue (paused, rate limit, hold). @throws NotFoundError */
  async queueControls(queue = this.queue.name): Promise<QueueControls> {
    return (await this.controls()).get(queue);
  }

  /**
   * Pauses a queue: within a second every worker and gateway stops taking its tasks (running ones
   * finish); enqueues still work. Lasts until {@link resumeQueue}, across restarts.
   * @throws NotFoundError (`queue_not_found`)
   */
  async pauseQueue(queue = this.queue.name): Promise<QueueControls> {
    return (await this.controls()).pause(queue);
  }

  /** Resumes a paused queue (and ends any hold). @throws NotFoundError (`queue_not_found`) */
  async resumeQueue(queue = this.queue.name): Promise<QueueControls> {
    return (await this.controls()).resume(queue);
  }

  /**
   * Sets (or with `null` removes) a queue-wide rate limit: at most `limit` tasks start per
   * `intervalMs` across all workers of all processes (and HTTP consumers), on top of `maxConcurrent`.
   * @throws ValidationError (`invalid_rate_limit`), NotFoundError (`queue_not_found`)
   */
  async setRateLimit(queue: string, limit: RateLimit | null): Promise<QueueControls> {
    return (await this.controls()).setRateLimit(queue, limit);
  }

  /**
   * Cancels a task. One not yet running is ended as `cancelled` at once and never runs; a running
   * one gets its handler's `AbortSignal` fired (reason `TaskCancelledError`) by its worker, within
   * a second, and ends as `cancelled` without retries. Returns the task as it stands (still
   * `active` in the second case until its worker settles it).
   * @throws NotFoundError (`task_not_found`), StateError (`task_finished`) when already final
   */
  cancelTask(id: string): Promise<Task> {
    return this.engine.cancelTask(id);
  }

  /**
   * Task state events as they happen (core NATS, not replayed): every state change, or with
   * `final: true` only each task's final outcome. Invalid messages are logged and skipped.
   */
  events(opts: { queue?: string; final?: boolean } = {}): EventStream {
    return taskEvents(this.nc, this.log, opts);
  }

  /**
   * Every event as it happens: task states, progress, log lines and queue events (pause, resume,
   * holds, rate limiting, dead letters, redrives, de-duplication) of one queue or all.
   */
  allEvents(opts: { queue?: string } = {}): EventStream<JetqEvent> {
    return allEvents(this.nc, this.log, opts);
  }

  /** Stops every `run()` of this client (gracefully) and closes the connection if the client opened it. */
  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.workers.clear();
    await this.engine.stop();
    await this.metricsServer?.stop();
    this.storage.close();
    if (this.ownsConnection && !this.nc.isClosed()) await this.nc.drain();
  }
}
