import { AckPolicy, type ConsumerMessages, DeliverPolicy, RetentionPolicy } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { NotFoundError, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { openBucket } from "../nats/buckets.js";
import { ensureStream } from "../nats/streams.js";
import { parseTaskStateEvent } from "./events.js";
import { validateId } from "./names.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { DEPENDENCIES_BUCKET, FINAL_EVENTS_STREAM, RESOLVER_CONSUMER, taskEventWildcard } from "./storage/layout.js";
import { isFinalState, type Task, type TaskResult, TaskState } from "./task.js";

/** How long final events are kept for resolvers that were down. */
const FINAL_EVENTS_MAX_AGE_NS = 7 * 24 * 3_600 * 1e9;

/** Creates the final-events stream and the dependencies bucket when missing; returns the bucket. */
export async function prepareDependencies(storage: JetStreamStorage): Promise<KV> {
  await ensureStream(storage.jsm, {
    name: FINAL_EVENTS_STREAM,
    subjects: [taskEventWildcard("*", true)],
    retention: RetentionPolicy.Limits,
    max_age: FINAL_EVENTS_MAX_AGE_NS,
  });
  return openBucket(storage.nc, DEPENDENCIES_BUCKET, { history: 1 });
}

/** Where a task with dependencies stands. */
export type DependencyVerdict =
  | { kind: "ready"; results: Record<string, TaskResult> }
  | { kind: "waiting"; pending: string[] }
  | { kind: "failed"; dependency: string; state: string };

/**
 * Checks a task's dependencies against their records.
 * @throws ValidationError (`unknown_dependency`) when a dependency does not exist.
 */
export async function evaluateDependencies(storage: JetStreamStorage, task: Task): Promise<DependencyVerdict> {
  const results: Record<string, TaskResult> = {};
  const pending: string[] = [];
  for (const id of task.dependencies ?? []) {
    let dep: Task;
    try {
      dep = await storage.loadTask(validateId(id));
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new ValidationError("unknown_dependency", `task ${task.id} depends on unknown task ${id}`);
      throw err;
    }
    if (dep.state === TaskState.Complete) {
      if (dep.result) results[id] = dep.result;
    } else if (isFinalState(dep.state)) return { kind: "failed", dependency: id, state: dep.state };
    else pending.push(id);
  }
  return pending.length > 0 ? { kind: "waiting", pending } : { kind: "ready", results };
}

/**
 * Applies a verdict: a ready task is enqueued (with its dependencies' results when it asked for
 * them), a failed one becomes `unreachable`, a waiting one is recorded as `blocked` and indexed
 * under each pending dependency. Safe to repeat: enqueues are de-duplicated by id.
 */
export async function settleDependencies(
  storage: JetStreamStorage,
  kv: KV,
  task: Task,
  verdict: DependencyVerdict,
): Promise<void> {
  if (verdict.kind === "ready") {
    if (task.loadDependencies) task.dependencyResults = verdict.results;
    await storage.addTask(task, `${task.id}:unblocked`);
  } else if (verdict.kind === "failed") {
    task.state = TaskState.Unreachable;
    task.lastError = `dependency ${verdict.dependency} is ${verdict.state}`;
    await storage.saveRecord(task);
    storage.publishEvents(task);
  } else {
    task.state = TaskState.Blocked;
    await storage.saveRecord(task);
    for (const dep of verdict.pending) await kv.put(`${dep}.${task.id}`, task.queue);
    storage.publishEvents(task);
    return;
  }
  for (const dep of task.dependencies ?? []) await kv.delete(`${dep}.${task.id}`).catch(() => undefined);
}

/** Parameters of {@link DependencyResolver}. */
export interface DependencyResolverParams {
  storage: JetStreamStorage;
  log: Logger;
}

/**
 * Releases blocked tasks when their dependencies finish. Driven by the stored final-outcome events
 * through one durable consumer shared by every resolver (so several can run; each event is
 * handled once), and so it survives restarts of every process. Runs in `jetq serve`.
 */
export class DependencyResolver {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private stopped = false;

  constructor(private readonly p: DependencyResolverParams) {}

  /** Creates what it needs and starts following final events. */
  async start(): Promise<void> {
    const { storage } = this.p;
    const kv = await prepareDependencies(storage);
    await storage.jsm.consumers.add(FINAL_EVENTS_STREAM, {
      durable_name: RESOLVER_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 30_000_000_000,
    });
    const consumer = await storage.js.consumers.get(FINAL_EVENTS_STREAM, RESOLVER_CONSUMER);
    this.messages = await consumer.consume({ max_messages: 256 });
    this.loop = this.run(this.messages, kv);
  }

  private async run(messages: ConsumerMessages, kv: KV): Promise<void> {
    for await (const m of messages) {
      try {
        await this.release(kv, parseTaskStateEvent(m.data).taskId);
        m.ack();
      } catch (err) {
        if (this.stopped) return;
        this.p.log.error("could not release dependants; retrying", {
          subject: m.subject,
          error: (err as Error).message,
        });
        m.nak(1000);
      }
    }
  }

  private async release(kv: KV, finishedId: string): Promise<void> {
    const { storage } = this.p;
    const keys: string[] = [];
    for await (const k of await kv.keys(`${finishedId}.*`)) keys.push(k);
    for (const key of keys) {
      const blockedId = key.slice(finishedId.length + 1);
      const task = await storage.loadRecord(blockedId);
      if (!task || task.state !== TaskState.Blocked) {
        await kv.delete(key);
        continue;
      }
      const verdict = await evaluateDependencies(storage, task);
      if (verdict.kind === "waiting") await kv.delete(key);
      else await settleDependencies(storage, kv, task, verdict);
    }
  }

  /** Stops following events. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }
}
