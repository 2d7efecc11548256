import type { KeyObject } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { Channel } from "../channel.js";
import { ValidationError } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { connectNats, type NatsOptions } from "../nats/connect.js";
import type { AttemptRules } from "./attempt.js";
import { Cancellations, cancelTask } from "./cancellations.js";
import { DeadLetters } from "./dead-letters.js";
import { DelayedTasks, enqueueState } from "./delayed-tasks.js";
import { evaluateDependencies, openDependants, settleDependencies } from "./dependencies.js";
import { type JetqEvent, parseEvent, TASK_STATE_EVENT, type TaskStateEvent } from "./events.js";
import { type DedupeOptions, type DedupeResult, Idempotency } from "./idempotency.js";
import { validateQueueName } from "./names.js";
import { DEFAULT_QUEUE, type QueueConfig, type ResolvedQueue } from "./queue.js";
import { QueueControlCommands, type QueueControls, type RateLimit } from "./queue-controls.js";
import { RateLimiter } from "./rate-limiter.js";
import { customPolicy, type RetryPolicy, retryDefault, retryPolicyByName } from "./retry-policy.js";
import type { Router } from "./router.js";
import { ScheduledTasks } from "./scheduled-tasks.js";
import {
  privateKeyFrom,
  publicKeyFrom,
  readKeyFile,
  type SigningKey,
  signTask,
  type VerificationKey,
} from "./signing.js";
import { JetStreamStorage, type StorageOptions } from "./storage/jetstream-storage.js";
import { allEventWildcards, recordMsgId, taskEventWildcard, taskSubject, workSubject } from "./storage/layout.js";
import { recordHeaderValues } from "./storage/task-codec.js";
import { type Task, TaskState } from "./task.js";
import type { TaskObserver } from "./task-observer.js";
import { retryTask } from "./task-retry.js";
import { Worker, type WorkerQueue } from "./worker.js";

/**
 * Something that durably accepts messages to publish to JetStream later, such as the
 * `OutboxPublisher` of `jetq/outbox`. Resolving means the message is safe on local disk.
 */
export interface DurablePublisher {
  publish(
    subject: string,
    data: Uint8Array,
    opts?: { msgId?: string; headers?: Record<string, string> },
  ): Promise<void>;
}

/** Options of {@link Client.connect}. Connection fields are those of {@link NatsOptions}. */
export interface ClientOptions extends NatsOptions, StorageOptions {
  /** Use this connection instead of opening one; the client then never closes it. */
  connection?: NatsConnection;
  /**
   * The queue this client enqueues to and works on: a definition (created when missing) or the
   * name of an existing queue. @defaultValue `"DEFAULT"` (created with default settings)
   */
  queue?: QueueConfig | string;
  /** Handlers run at once by `run()` in this process. @defaultValue 10 */
  concurrency?: number;
  /**
   * Back-off between tries: a policy, a name (`"1m"`, `"10m"`, `"1h"`, `"exponential"`) or a
   * function of the try count returning ms. @defaultValue `"10m"` (linear, 1 to 10 minutes, jittered)
   */
  retryPolicy?: RetryPolicy | string | ((tries: number) => number);
  /** Final states whose task records are discarded instead of kept. @defaultValue none */
  discard?: TaskState[];
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
  /** Sign every enqueued task with this ed25519 key (seed bytes, hex, or KeyObject). */
  signingKey?: SigningKey;
  /** Sign with the seed in this file (hex or 32 raw bytes), read for each enqueue call and wiped after. */
  signingSeedFile?: string;
  /** Workers verify task signatures with this ed25519 public key (raw bytes, hex, or KeyObject). */
  verificationKey?: VerificationKey;
  /** Read the verification key from this file (hex or 32 raw bytes). */
  verificationKeyFile?: string;
  /**
   * With a verification key: accept unsigned tasks (signed ones are still checked). Without this,
   * unsigned or tampered tasks are terminated. @defaultValue false
   */
  signaturesOptional?: boolean;
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
  | "purgeQueue"
  | "deleteQueue"
  | "prepareQueue"
  | "getQueue"
  | "tasks"
  | "tasksInfo"
  | "deleteTask"
>;

/** An event stream from {@link Client.events} or {@link Client.allEvents}; iterate it once, call `close()` to end it. */
export interface EventStream<E extends JetqEvent = TaskStateEvent> extends AsyncIterableIterator<E> {
  close(): void;
}

const ENQUEUE_WINDOW = 4096;

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

function resolvePolicy(p: ClientOptions["retryPolicy"]): RetryPolicy {
  if (p === undefined) return retryDefault;
  if (typeof p === "string") return retryPolicyByName(p);
  if (typeof p === "function") return customPolicy(p);
  return p;
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
  private readonly workers = new Set<Worker>();
  private readonly retry: RetryPolicy;
  private metricsServer?: { url: string; stop(): Promise<void> };
  private observer?: TaskObserver;
  private readonly verifier?: { key: KeyObject; optional: boolean };
  private dependencies?: Promise<KV>;
  private cancels?: Promise<Cancellations>;

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
    this.deadLetters = new DeadLetters(storage, { signingKey: () => this.signer() });
    this.retry = resolvePolicy(opts.retryPolicy);
    if (opts.observer) {
      this.observer = opts.observer;
      storage.observer = opts.observer;
    }
    const vkey = opts.verificationKeyFile ? readKeyFile(opts.verificationKeyFile) : opts.verificationKey;
    if (vkey !== undefined) this.verifier = { key: publicKeyFrom(vkey), optional: opts.signaturesOptional ?? false };
  }

  /** The signing key for one enqueue call, or undefined when tasks are not signed. */
  private signer(): KeyObject | undefined {
    if (this.opts.signingKey !== undefined) return privateKeyFrom(this.opts.signingKey);
    if (!this.opts.signingSeedFile) return undefined;
    const seed = readKeyFile(this.opts.signingSeedFile);
    try {
      return privateKeyFrom(seed);
    } finally {
      seed.fill(0);
    }
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
    const user = this.observer;
    this.observer = user
      ? {
          taskState: (t) => {
            metrics.taskState(t);
            user.taskState(t);
          },
          handlerDone: (t, s, ok) => {
            metrics.handlerDone(t, s, ok);
            user.handlerDone(t, s, ok);
          },
          queueEvent: (q, action) => {
            metrics.queueEvent(q, action);
            user.queueEvent?.(q, action);
          },
          taskReport: (t, kind) => {
            metrics.taskReport(t, kind);
            user.taskReport?.(t, kind);
          },
        }
      : metrics;
    this.storage.observer = this.observer;
  }

  /** Connects (or uses `connection`), prepares storage and the queue, and returns a ready client. */
  static async connect(opts: ClientOptions = {}): Promise<Client> {
    const log = opts.logger ?? createLogger();
    const concurrency = opts.concurrency ?? 10;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ValidationError("invalid_concurrency", `concurrency must be a positive integer, got ${concurrency}`);
    }
    resolvePolicy(opts.retryPolicy);
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
      const client = new Client(nc, !opts.connection, storage, queue, opts, log);
      if (opts.metricsPort !== undefined) await client.startMetrics(opts.metricsPort);
      return client;
    } catch (err) {
      if (!opts.connection) await nc.close();
      throw err;
    }
  }

  /** The queue a task goes to: the call's, else the task's, else this client's. */
  private queueFor(task: Task, queue: string | undefined): string {
    return validateQueueName(queue ?? (task.queue || this.queue.name));
  }

  /** Checks that a queue other than this client's exists (through an outbox NATS may be away: not then). */
  private async checkQueue(name: string): Promise<void> {
    if (name !== this.queue.name && !this.opts.outbox) await this.storage.getQueue(name);
  }

  /** Sets queue and state, signs, and encodes (checking the size). Synchronous, for pipelining. */
  private prepare(task: Task, name: string, key: KeyObject | undefined, state: TaskState = TaskState.New): Uint8Array {
    task.queue = name;
    task.state = state;
    if (key) task.signature = signTask(task, key);
    return this.storage.encode(task);
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
  async enqueue<T extends Task>(task: T, opts: { queue?: string; dedupe?: DedupeOptions } = {}): Promise<T> {
    const name = this.queueFor(task, opts.queue);
    await this.checkQueue(name);
    if (opts.dedupe) return (await this.enqueueDeduped(task, name, opts.dedupe)).task as T;
    const data = this.prepare(task, name, this.signer(), enqueueState(task));
    if (task.dependencies?.length) {
      await this.enqueueBlocked(task);
      return task;
    }
    await this.write(task, data);
    return task;
  }

  /** Enqueues under an idempotency key (not through an outbox: keys live in NATS). */
  private enqueueDeduped(task: Task, name: string, dedupe: DedupeOptions): Promise<DedupeResult> {
    if (this.opts.outbox) throw new ValidationError("unsupported", "idempotency keys cannot be used through an outbox");
    const key = this.signer();
    return Idempotency.for(this.storage, this.log).enqueue(task, name, dedupe, {
      prepare: (t) => this.prepare(t, name, key, enqueueState(t)),
      write: (t, data) => this.write(t, data),
    });
  }

  /** Writes a prepared task (to the outbox when there is one) and reports it as `new` (or `delayed`). */
  private async write(task: Task, data: Uint8Array): Promise<void> {
    if (task.state === TaskState.Delayed) {
      await DelayedTasks.for(this.storage, this.log).add(task, data, this.opts.outbox);
      return;
    }
    if (this.opts.outbox) {
      await this.viaOutbox(this.opts.outbox, task, data);
      return;
    }
    const { duplicate } = await this.storage.enqueue(task, data);
    if (duplicate) {
      this.log.debug("duplicate enqueue ignored", { task: task.id });
      return;
    }
    this.storage.publishEvents(task);
    this.observer?.taskState(task);
  }

  /**
   * Enqueues a task with dependencies: at once when they all completed, as `unreachable` when one
   * failed, else as `blocked` until a `DependencyResolver` (in `jetq serve`) releases it.
   */
  private async enqueueBlocked(task: Task): Promise<void> {
    if (this.opts.outbox)
      throw new ValidationError("unsupported", "tasks with dependencies cannot be enqueued through an outbox");
    this.dependencies ??= openDependants(this.storage);
    const kv = await this.dependencies;
    let verdict = await evaluateDependencies(this.storage, task);
    await settleDependencies(this.storage, kv, task, verdict);
    if (verdict.kind === "waiting") {
      // A dependency that finished before the index was written has no event left to release us.
      verdict = await evaluateDependencies(this.storage, task);
      if (verdict.kind !== "waiting") await settleDependencies(this.storage, kv, task, verdict);
    }
  }

  /** Writes a task's record and work item to the outbox, in that order, in one local commit. */
  private async viaOutbox(outbox: DurablePublisher, task: Task, data: Uint8Array): Promise<void> {
    await Promise.all([
      outbox.publish(taskSubject(task.id), data, { msgId: recordMsgId(task.id), headers: recordHeaderValues(task) }),
      outbox.publish(workSubject(task.queue, task.id, task.priority), data, { msgId: task.id }),
    ]);
  }

  /**
   * Enqueues many tasks with pipelined publishes (thousands in flight, not one round trip each).
   * Resolves when every task is stored; if any failed, rejects with an {@link AggregateError} whose
   * `errors` hold the failures (the other tasks are stored).
   */
  async enqueueMany<T extends Task>(tasks: T[], opts: { queue?: string } = {}): Promise<T[]> {
    const window = new Set<Promise<void>>();
    const errors: Error[] = [];
    const key = this.signer();
    for (const name of new Set(tasks.map((t) => this.queueFor(t, opts.queue)))) await this.checkQueue(name);
    for (const task of tasks) {
      if (task.dependencies?.length) {
        await this.enqueue(task, opts);
        continue;
      }
      // Everything up to the publishes runs synchronously, so a window's messages leave in one write.
      let data: Uint8Array;
      try {
        data = this.prepare(task, this.queueFor(task, opts.queue), key, enqueueState(task));
      } catch (err) {
        errors.push(err as Error);
        continue;
      }
      const p: Promise<void> = this.write(task, data)
        .catch((err: Error) => {
          errors.push(err);
        })
        .finally(() => window.delete(p));
      window.add(p);
      if (window.size >= ENQUEUE_WINDOW) await Promise.race(window);
    }
    await Promise.all(window);
    if (errors.length > 0)
      throw new AggregateError(errors, `${errors.length} of ${tasks.length} tasks were not enqueued`);
    return tasks;
  }

  /**
   * Loads a task by id; with `logs: true` also the lines its handlers appended (`task.logs`).
   * @throws NotFoundError (`task_not_found`)
   */
  async loadTask(id: string, opts: { logs?: boolean } = {}): Promise<Task> {
    const task = await this.storage.loadTask(id);
    if (opts.logs) task.logs = await this.storage.logs.read(id);
    return task;
  }

  /**
   * Runs a task again from scratch (tries reset to 0), removing any work item it still has.
   * @throws NotFoundError (`task_not_found`)
   */
  retryTask(id: string): Promise<Task> {
    return retryTask(this.storage, id, this.signer());
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
    const cancels = await this.cancellations();
    const rules = (queue: ResolvedQueue): AttemptRules => ({
      storage: this.storage,
      queue,
      retryPolicy: this.retry,
      discard: new Set(this.opts.discard ?? []),
      log: this.log.child({ queue: queue.name }),
      cancels,
      ...(this.observer ? { observer: this.observer } : {}),
      ...(this.verifier ? { verifier: this.verifier } : {}),
    });
    const queues: WorkerQueue[] = [];
    for (const [name, weight] of weights) queues.push({ rules: rules(await this.storage.getQueue(name)), weight });
    const worker = new Worker({
      router,
      queues,
      strict: opts.strict ?? false,
      concurrency: this.opts.concurrency ?? 10,
      shutdownTimeoutMs: this.opts.shutdownTimeoutMs ?? 30_000,
      controls: await this.controls(),
      limiter: () => {
        return RateLimiter.for(this.storage);
      },
      cancels,
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

  private controls(): Promise<QueueControlCommands> {
    return QueueControlCommands.for(this.storage);
  }

  private cancellations(): Promise<Cancellations> {
    this.cancels ??= Cancellations.for(this.storage);
    return this.cancels;
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
  async cancelTask(id: string): Promise<Task> {
    return cancelTask(this.storage, await this.cancellations(), id, this.log);
  }

  /**
   * Task state events as they happen (core NATS, not replayed): every state change, or with
   * `final: true` only each task's final outcome. Invalid messages are logged and skipped.
   */
  events(opts: { queue?: string; final?: boolean } = {}): EventStream {
    const queue = opts.queue === undefined ? "*" : validateQueueName(opts.queue);
    return this.subscribeEvents([taskEventWildcard(queue, opts.final ?? false)], (e): e is TaskStateEvent => {
      return e.type === TASK_STATE_EVENT;
    });
  }

  /**
   * Every event as it happens: task states, progress, log lines and queue events (pause, resume,
   * holds, rate limiting, dead letters, redrives, de-duplication) of one queue or all.
   */
  allEvents(opts: { queue?: string } = {}): EventStream<JetqEvent> {
    const queue = opts.queue === undefined ? "*" : validateQueueName(opts.queue);
    return this.subscribeEvents(allEventWildcards(queue), (e): e is JetqEvent => true);
  }

  private subscribeEvents<E extends JetqEvent>(subjects: string[], keep: (e: JetqEvent) => e is E): EventStream<E> {
    const subs: Subscription[] = subjects.map((s) => this.nc.subscribe(s));
    const log = this.log;
    const merged = new Channel<{ subject: string; data: Uint8Array }>();
    for (const sub of subs) {
      void (async () => {
        for await (const m of sub) merged.push({ subject: m.subject, data: m.data });
      })().finally(() => {
        if (subs.every((s) => s.isClosed())) merged.end();
      });
    }
    async function* parse(): AsyncGenerator<E> {
      for await (const m of merged) {
        try {
          const e = parseEvent(m.data);
          if (keep(e)) yield e;
        } catch (err) {
          log.warn("skipping an invalid event", { subject: m.subject, error: (err as Error).message });
        }
      }
    }
    return Object.assign(parse(), {
      close: () => {
        for (const s of subs) s.unsubscribe();
      },
    });
  }

  /** Stops every `run()` of this client (gracefully) and closes the connection if the client opened it. */
  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.workers.clear();
    await (await this.cancels?.catch(() => undefined))?.stop();
    await this.metricsServer?.stop();
    this.storage.close();
    if (this.ownsConnection && !this.nc.isClosed()) await this.nc.drain();
  }
}
