import type { KeyObject } from "node:crypto";
import { ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DelayedTasks } from "./delayed-tasks.js";
import { enqueueState } from "./delayed-tasks.js";
import type { Dependencies } from "./dependencies.js";
import type { DedupeOptions, DedupeResult, Idempotency } from "./idempotency.js";
import { validateQueueName } from "./names.js";
import { signTask } from "./signing.js";
import { type JetStreamStorage, MAX_ENQUEUE_BATCH } from "./storage/jetstream-storage.js";
import { workSubject } from "./storage/layout.js";
import { type Task, TaskState, validateTask } from "./task.js";
import { type TaskSpan, traceEnqueue } from "./tracing.js";

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

/** Options of one enqueue. */
export interface EnqueueOptions {
  /** The queue, instead of the task's (or else the enqueuer's default). */
  queue?: string;
  /** An idempotency key: within its window the same key answers with the existing task. */
  dedupe?: DedupeOptions;
}

/** Parameters of {@link Enqueuer}. */
export interface EnqueuerParams {
  storage: JetStreamStorage;
  log: Logger;
  /** Queue of tasks that name none. */
  defaultQueue?: string;
  /** The signing key for one call (read anew each call, for seed files), or undefined: unsigned. */
  signer: () => KeyObject | undefined;
  delayed: DelayedTasks;
  dependencies: Dependencies;
  idempotency: Idempotency;
  /** Write through this durable buffer instead of straight to JetStream. @defaultValue none */
  outbox?: DurablePublisher;
}

/** Publishes of one `enqueueMany` in flight at once. */
const ENQUEUE_WINDOW = 4096;

/** A task ready to be written: encoded, with its de-duplication id and its enqueue span. */
interface Prepared {
  task: Task;
  data: Uint8Array;
  msgId: string;
  span: TaskSpan;
}

/**
 * The one way tasks get into queues, for every face: the library's `enqueue`/`enqueueMany`, the
 * REST and emq routes, retries and dead-letter redrives, dependencies being released, delayed tasks
 * coming due, cron ticks, the janitor. Each call validates the task, resolves and checks its queue,
 * signs it when a key is configured, sorts it by what it waits for — a time (`delayed`, through the
 * scheduler), other tasks (`blocked`, through the dependants index), an idempotency key — and
 * writes it (or hands it to the outbox), then publishes its event and tells the storage's observer
 * (metrics). Only this module writes work items (`JetStreamStorage.enqueue`).
 */
export class Enqueuer {
  private readonly known = new Set<string>();

  constructor(private readonly p: EnqueuerParams) {
    if (p.defaultQueue !== undefined) this.known.add(p.defaultQueue);
  }

  /** The queue a task goes to: the call's, else the task's, else the default. */
  private queueFor(task: Task, queue: string | undefined): string {
    return validateQueueName(queue ?? (task.queue || this.p.defaultQueue));
  }

  /** Checks that a queue exists (once per queue; not through an outbox, where NATS may be away). */
  private async checkQueue(name: string): Promise<void> {
    if (this.known.has(name) || this.p.outbox) return;
    await this.p.storage.getQueue(name);
    this.known.add(name);
  }

  /**
   * Validates, sets queue and state, signs (when a key is given and the task is not signed yet, or
   * `resign`), and encodes, checking the size. Synchronous, so a window of publishes leaves in one
   * socket write.
   */
  private prepare(task: Task, queue: string, key: KeyObject | undefined, state: TaskState, resign = false): Uint8Array {
    validateTask(task);
    task.queue = queue;
    task.state = state;
    if (key && (resign || task.signature === undefined)) task.signature = signTask(task, key);
    return this.p.storage.encode(task);
  }

  /**
   * Enqueues one task. A task whose `runAt` lies ahead is stored as `delayed` and put in its queue
   * by the scheduler then; one with dependencies is `blocked` until they complete (or
   * `unreachable` when one failed). The same task id enqueued twice within the duplicate window is
   * stored once; with `dedupe`, an enqueue within the key's window creates nothing and answers with
   * the task that holds the key.
   * @throws ValidationError, NotFoundError (`queue_not_found`), StorageError
   */
  async enqueue<T extends Task>(task: T, opts: EnqueueOptions = {}): Promise<DedupeResult & { task: T }> {
    const queue = this.queueFor(task, opts.queue);
    task.queue = queue;
    return this.traced(task, "enqueue", () => this.enqueueTraced(task, queue, opts));
  }

  private async enqueueTraced<T extends Task>(
    task: T,
    queue: string,
    opts: EnqueueOptions,
  ): Promise<DedupeResult & { task: T }> {
    await this.checkQueue(queue);
    const key = this.p.signer();
    if (opts.dedupe) {
      if (this.p.outbox) throw new ValidationError("unsupported", "idempotency keys cannot be used through an outbox");
      const r = await this.p.idempotency.enqueue(task, queue, opts.dedupe, {
        prepare: (t) => this.prepare(t, queue, key, enqueueState(t)),
        write: async (t, data) => {
          await this.write(t, data, t.id);
        },
      });
      return r as DedupeResult & { task: T };
    }
    const data = this.prepare(task, queue, key, enqueueState(task));
    if (task.dependencies?.length) {
      if (this.p.outbox)
        throw new ValidationError("unsupported", "tasks with dependencies cannot be enqueued through an outbox");
      await this.p.dependencies.enqueue(task, (t, msgId) => this.put(t, msgId));
      return { task, duplicate: false };
    }
    return { task, duplicate: await this.write(task, data, task.id) };
  }

  /**
   * Enqueues many tasks with pipelined publishes (thousands in flight, not one round trip each).
   * Resolves when every task is stored; if any failed, rejects with an {@link AggregateError} whose
   * `errors` hold the failures (the other tasks are stored).
   */
  async enqueueMany<T extends Task>(tasks: T[], opts: { queue?: string } = {}): Promise<T[]> {
    // Writes in flight, weighed by their tasks (a batch counts as all of its tasks).
    const window = new Map<Promise<unknown>, number>();
    let inFlight = 0;
    const errors: Error[] = [];
    const key = this.p.signer();
    const queues = new Map<T, string>();
    try {
      for (const task of tasks) queues.set(task, this.queueFor(task, opts.queue));
    } catch (err) {
      throw new AggregateError([err], "a task names an invalid queue; nothing was enqueued");
    }
    for (const name of new Set(queues.values())) await this.checkQueue(name);
    const track = async (p: Promise<unknown>, weight = 1) => {
      const tracked: Promise<unknown> = p.finally(() => {
        window.delete(tracked);
        inFlight -= weight;
      });
      window.set(tracked, weight);
      inFlight += weight;
      while (inFlight >= ENQUEUE_WINDOW) await Promise.race(window.keys());
    };
    // Tasks going straight to their queue, gathered per queue into atomic batches (see flush).
    const batches = new Map<string, Prepared[]>();
    const flush = (queue: string) => {
      const batch = batches.get(queue);
      batches.delete(queue);
      return batch ? track(this.writeBatch(queue, batch, errors), batch.length) : Promise.resolve();
    };
    for (const task of tasks) {
      if (task.dependencies?.length) {
        await this.enqueue(task, opts).catch((err: Error) => errors.push(err));
        continue;
      }
      // Everything up to the publishes runs synchronously, so a window's messages leave in one write.
      let data: Uint8Array;
      task.queue = queues.get(task)!;
      const span = traceEnqueue(task, "enqueue");
      try {
        data = this.prepare(task, task.queue, key, enqueueState(task));
      } catch (err) {
        span.end(err);
        errors.push(err as Error);
        continue;
      }
      if (task.state === TaskState.New && !this.p.outbox) {
        let batch = batches.get(task.queue);
        if (!batch) {
          batch = [];
          batches.set(task.queue, batch);
        }
        batch.push({ task, data, msgId: task.id, span });
        if (batch.length >= MAX_ENQUEUE_BATCH) await flush(task.queue);
        continue;
      }
      await track(
        this.write(task, data, task.id).then(
          () => span.end(),
          (err: Error) => {
            span.end(err);
            errors.push(err);
          },
        ),
      );
    }
    for (const queue of [...batches.keys()]) await flush(queue);
    await Promise.all(window.keys());
    if (errors.length > 0)
      throw new AggregateError(
        errors,
        `${errors.length} of ${tasks.length} tasks were not enqueued (first: ${errors[0]!.message})`,
      );
    return tasks;
  }

  /**
   * Writes prepared tasks of one queue as one atomic batch where the server can (one
   * acknowledgement for the lot), else — or when the batch was refused, say because one of them
   * was enqueued already — one by one, each de-duplicated. Failures go to `errors`.
   */
  private async writeBatch(queue: string, batch: Prepared[], errors: Error[]): Promise<void> {
    const { storage } = this.p;
    let stored = false;
    try {
      stored = batch.length > 1 && (await storage.enqueueBatch(queue, batch));
    } catch (err) {
      this.p.log.debug("batch enqueue failed; enqueueing one by one", { queue, error: (err as Error).message });
    }
    if (stored) {
      for (const { task, span } of batch) {
        storage.announce(task);
        span.end();
      }
      return;
    }
    await Promise.all(
      batch.map(({ task, data, msgId, span }) =>
        this.write(task, data, msgId).then(
          () => span.end(),
          (err: Error) => {
            span.end(err);
            errors.push(err);
          },
        ),
      ),
    );
  }

  /**
   * Starts a task again from scratch — a retry of a finished task, a dead letter redriven: a new
   * run (`Task.run`), no tries, no result; signed again when a key is at hand. `msgId` de-duplicates
   * a repeated call.
   */
  async restart(task: Task, msgId: string): Promise<Task> {
    return this.traced(task, "put", async () => {
      await this.restartTraced(task, msgId);
      return task;
    });
  }

  private async restartTraced(task: Task, msgId: string): Promise<void> {
    task.run = await this.p.storage.nextRun(task);
    task.tries = 0;
    delete task.result;
    delete task.releases;
    delete task.progress;
    const key = this.p.signer();
    const data = this.prepare(task, task.queue, key, TaskState.New, key !== undefined);
    await this.write(task, data, msgId, true);
  }

  /**
   * Puts a task whose wait is over in its queue as `new`: dependencies released, a delayed task or
   * a cron tick come due, an item the janitor recovered. `msgId` de-duplicates repeats (a resolver
   * and the producer releasing the same task, a fire repeated after a failover).
   * @returns whether JetStream recognised it as a duplicate.
   */
  async put(task: Task, msgId: string): Promise<boolean> {
    return this.traced(task, "put", async () => {
      const queue = this.queueFor(task, undefined);
      await this.checkQueue(queue);
      const data = this.prepare(task, queue, this.p.signer(), TaskState.New);
      return this.write(task, data, msgId, true);
    });
  }

  /** Runs `write` inside an enqueue or put span of `task` (docs/tracing.md). */
  private async traced<T>(task: Task, operation: "enqueue" | "put", write: () => Promise<T>): Promise<T> {
    const span = traceEnqueue(task, operation);
    try {
      const r = await write();
      span.end();
      return r;
    } catch (err) {
      span.end(err);
      throw err;
    }
  }

  /**
   * Writes a prepared task — delayed through the scheduler's stream, else as a work item, to the
   * outbox when there is one — and announces it unless it was a duplicate. A new task has no record
   * (its work item is all there is until it starts); a task that had one (it was delayed, blocked,
   * finished) gets it rewritten as `new` after its work item (`withRecord`), so `loadTask` does not
   * show the state it left — unless a worker wrote a record meanwhile (the rewrite is conditional on
   * the record read before). A crash between the two leaves the old record until the task starts.
   */
  private async write(task: Task, data: Uint8Array, msgId: string, withRecord = false): Promise<boolean> {
    const { storage } = this.p;
    if (task.state === TaskState.Delayed) {
      const { duplicate } = await this.p.delayed.add(task, data, this.p.outbox);
      if (!duplicate && !this.p.outbox) storage.announce(task);
      return duplicate;
    }
    if (this.p.outbox) {
      await this.p.outbox.publish(workSubject(task.queue, task.id, task.priority), data, { msgId });
      return false;
    }
    const before = withRecord ? await storage.recordFor(task.id) : undefined;
    const { duplicate } = await storage.enqueue(task, data, msgId);
    if (before && !duplicate) await storage.replaceRecord(task, before.kind === "none" ? 0 : before.seq, data);
    if (duplicate) this.p.log.debug("duplicate enqueue ignored", { task: task.id });
    else storage.announce(task);
    return duplicate;
  }
}
