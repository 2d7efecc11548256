import type { KV, KvWatchEntry } from "@nats-io/kv";
import { ValidationError } from "../errors.js";
import type { Service } from "../lifecycle.js";
import type { Logger } from "../logger.js";
import { updateKey } from "../nats/buckets.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { parseTaskStateEvent } from "./events.js";
import { validateId } from "./names.js";
import type { BusSubscription } from "./storage/bus.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { DEPENDENCIES_BUCKET, LEGACY_FINAL_EVENTS_STREAM, taskEventWildcard } from "./storage/layout.js";
import { isFinalState, type Task, type TaskResult, TaskState } from "./task.js";

/** A task waiting for another one, as kept in the dependants index. */
export interface Dependant {
  /** The blocked task. */
  id: string;
  /** Its queue. */
  queue: string;
}

/** The value stored under a dependency's key in {@link DEPENDENCIES_BUCKET}. */
interface DependantsValue {
  dependants: Dependant[];
}

/**
 * The key of a task's dependants in {@link DEPENDENCIES_BUCKET}: its id with `:` (not allowed in
 * KV keys) written as `/` (which task ids never contain). Keys of the first layout were
 * `<dependency id>.<dependant id>`; new keys never contain a dot.
 */
export const dependantsKey = (dependencyId: string): string => dependencyId.replaceAll(":", "/");
const dependencyOfKey = (key: string): string => key.replaceAll("/", ":");

/** Where a task with dependencies stands. */
export type DependencyVerdict =
  | { kind: "ready"; results: Record<string, TaskResult> }
  | { kind: "waiting"; pending: string[] }
  | { kind: "failed"; dependency: string; state: string };

/** Puts a released task in its queue (the enqueuer's `put`), de-duplicated by `msgId`. */
export type PutTask = (task: Task, msgId: string) => Promise<unknown>;

function dependantsOf(value: DependantsValue | undefined): Dependant[] {
  return Array.isArray(value?.dependants) ? value.dependants : [];
}

/**
 * Tasks that wait for other tasks: how they stand ({@link evaluate}), what becomes of them
 * ({@link settle}), and the index of blocked tasks by dependency in {@link DEPENDENCIES_BUCKET}
 * (created on first use). One per storage, made by its owner (client or service).
 */
export class Dependencies {
  constructor(private readonly storage: JetStreamStorage) {}

  /** The index of blocked tasks by dependency, opened (created when missing) once. */
  index(): Promise<KV> {
    return this.storage.bucket("dependants");
  }

  /**
   * Checks a task's dependencies against their records. A dependency without a record has not
   * finished (a waiting task has none); with `mustExist` its work item must then be found.
   * @throws ValidationError (`unknown_dependency`) when a dependency does not exist.
   */
  async evaluate(task: Task, opts: { mustExist?: boolean } = {}): Promise<DependencyVerdict> {
    const ids = (task.dependencies ?? []).map((id) => validateId(id));
    const records = await this.storage.recordsFor(ids);
    const results: Record<string, TaskResult> = {};
    const pending: string[] = [];
    for (const id of ids) {
      let rec = records.get(id)!;
      if (rec.kind === "none" && opts.mustExist && !(await this.storage.findWorkItem(id))) {
        // Finished (its item removed) between the two reads, or unknown.
        rec = await this.storage.recordFor(id);
        if (rec.kind === "none")
          throw new ValidationError("unknown_dependency", `task ${task.id} depends on unknown task ${id}`);
      }
      const state = rec.kind === "task" ? rec.task.state : rec.kind === "discarded" ? rec.state : undefined;
      if (state === TaskState.Complete) {
        if (rec.kind === "task" && rec.task.result) results[id] = rec.task.result;
      } else if (state !== undefined && isFinalState(state)) return { kind: "failed", dependency: id, state };
      else pending.push(id);
    }
    return pending.length > 0 ? { kind: "waiting", pending } : { kind: "ready", results };
  }

  /**
   * Enqueues a task with dependencies: at once when they all completed, as `unreachable` when one
   * failed, else as `blocked` until a {@link DependencyResolver} (in `jetq serve`) releases it.
   */
  async enqueue(task: Task, put: PutTask): Promise<void> {
    let verdict = await this.evaluate(task, { mustExist: true });
    await this.settle(task, verdict, put);
    if (verdict.kind === "waiting") {
      // A dependency that finished before the index was written has no event left to release us.
      verdict = await this.evaluate(task);
      if (verdict.kind !== "waiting") await this.settle(task, verdict, put);
    }
  }

  /**
   * Applies a verdict: a ready task is put in its queue (with its dependencies' results when it
   * asked for them), a failed one becomes `unreachable`, a waiting one is recorded as `blocked` and
   * indexed under each pending dependency. Safe to repeat: the put is de-duplicated by id.
   */
  async settle(task: Task, verdict: DependencyVerdict, put: PutTask): Promise<void> {
    const { storage } = this;
    const kv = await this.index();
    if (verdict.kind === "ready") {
      if (task.loadDependencies) task.dependencyResults = verdict.results;
      await put(task, `${task.id}:unblocked`);
    } else if (verdict.kind === "failed") {
      task.state = TaskState.Unreachable;
      task.lastError = `dependency ${verdict.dependency} is ${verdict.state}`;
      await storage.saveRecord(task);
      storage.announce(task);
    } else {
      task.state = TaskState.Blocked;
      await storage.saveRecord(task);
      for (const dep of verdict.pending) await addDependant(kv, dep, { id: task.id, queue: task.queue });
      storage.announce(task);
      return;
    }
    const self = new Set([task.id]);
    for (const dep of task.dependencies ?? []) await removeDependants(kv, dep, self).catch(() => undefined);
  }

  /** The dependants indexed under a dependency. */
  async dependantsOf(dependencyId: string): Promise<Dependant[]> {
    const entry = await (await this.index()).get(dependantsKey(dependencyId));
    return entry?.operation === "PUT" ? dependantsOf(entry.json<DependantsValue>()) : [];
  }

  /** Removes the dependants `ids` from under a dependency (the key goes when none is left). */
  async forget(dependencyId: string, ids: ReadonlySet<string>): Promise<void> {
    await removeDependants(await this.index(), dependencyId, ids);
  }
}

/** Adds `dependant` under `dependencyId` (a revision-checked update; adding twice keeps one). */
async function addDependant(kv: KV, dependencyId: string, dependant: Dependant): Promise<void> {
  await updateKey<DependantsValue>(kv, dependantsKey(dependencyId), (v) => {
    const list = dependantsOf(v).filter((d) => d.id !== dependant.id);
    return { dependants: [...list, dependant] };
  });
}

/** Removes the dependants `ids` from under `dependencyId`; the key goes when none is left. */
async function removeDependants(kv: KV, dependencyId: string, ids: ReadonlySet<string>): Promise<void> {
  const key = dependantsKey(dependencyId);
  const left = await updateKey<DependantsValue>(kv, key, (v) => ({
    dependants: dependantsOf(v).filter((d) => !ids.has(d.id)),
  }));
  if (left.dependants.length === 0) await kv.delete(key);
}

/** Parameters of {@link DependencyResolver}. */
export interface DependencyResolverParams {
  storage: JetStreamStorage;
  dependencies: Dependencies;
  /** Puts a released task in its queue (the enqueuer's `put`). */
  put: PutTask;
  log: Logger;
  /**
   * How often every dependency with waiting dependants is checked again, in case a final event was
   * missed (core NATS events are not stored). Also done at start and after every reconnect.
   * @defaultValue 300_000 ms
   */
  sweepIntervalMs?: number;
}

/** Queue group of resolvers: each final event is handled by one of them. */
export const RESOLVER_QUEUE_GROUP = "jetq-dependency-resolver";

/** Checks of dependencies in flight at once during a sweep. */
const SWEEP_CONCURRENCY = 16;

/**
 * Releases blocked tasks when their dependencies finish. It knows which tasks have dependants by
 * watching the dependants index (one long-lived KV watch), and learns that one finished from the
 * final-outcome events the workers publish (core NATS, one queue group shared by every resolver):
 * an event for a task without dependants costs no storage access at all. A dependency is also
 * checked when its first dependant is indexed (it may have finished just before), at start, after
 * a reconnect and every `sweepIntervalMs`, so no event that was missed leaves a task blocked.
 * Runs in `jetq serve`; several can run.
 */
export class DependencyResolver implements Service {
  /** Dependencies that have dependants (keys of the index). */
  private readonly watched = new Set<string>();
  /** Releases in progress, by dependency: one at a time per dependency. */
  private readonly releasing = new Map<string, Promise<void>>();
  private watch?: { stop(): void };
  private sub?: BusSubscription;
  private sweeper?: NodeJS.Timeout;
  private unwatchConnection?: () => void;
  private stopped = false;
  /** True once the index's existing entries were read (checks run one by one until then: see sweep). */
  private loaded = false;
  private readonly warn: RateLimitedLog;

  constructor(private readonly p: DependencyResolverParams) {
    this.warn = new RateLimitedLog(p.log);
  }

  /** Opens the index, follows it and the final events; resolves once the index is loaded. */
  async start(): Promise<void> {
    const { storage } = this.p;
    const kv = await this.p.dependencies.index();
    await this.dropLegacyEvents();
    this.sub = storage.bus.subscribe(
      taskEventWildcard("*", true),
      (m) => {
        let id: string;
        try {
          id = parseTaskStateEvent(m.data).taskId;
        } catch {
          return; // not ours to judge: clients log invalid events
        }
        if (this.watched.has(id)) this.release(id);
      },
      {
        queue: RESOLVER_QUEUE_GROUP,
        onError: (err) => {
          this.warn.warn("events", "final events subscription failed; sweeping", { error: err.message });
          this.sweep();
        },
      },
    );
    const loaded = new Promise<void>((resolve) => {
      void this.follow(kv, resolve);
    });
    await loaded;
    this.unwatchConnection = storage.bus.onConnectionEvent((e) => {
      // After a reconnect, or when this client fell behind, events may have been lost.
      if (e !== "disconnect") this.sweep();
    });
    this.sweeper = setInterval(() => this.sweep(), this.p.sweepIntervalMs ?? 300_000);
    this.sweeper.unref();
  }

  /**
   * Earlier versions kept every final event in a stream (`JETQ_FINAL_EVENTS`): a JetStream write
   * per finished task. Its events are covered by checking every indexed dependency, so it goes.
   */
  private async dropLegacyEvents(): Promise<void> {
    try {
      if (await this.p.storage.dropLegacyFinalEvents())
        this.p.log.info("removed the final-events stream of an earlier version", {
          stream: LEGACY_FINAL_EVENTS_STREAM,
        });
    } catch (err) {
      this.p.log.warn("could not remove the final-events stream of an earlier version", {
        stream: LEGACY_FINAL_EVENTS_STREAM,
        error: (err as Error).message,
      });
    }
  }

  /** Follows the index: what it holds first (calling `loaded` after), then every change. */
  private async follow(kv: KV, loaded: () => void): Promise<void> {
    const markLoaded = () => {
      if (this.loaded) return;
      this.loaded = true;
      this.sweep();
      loaded();
    };
    try {
      const w = await kv.watch();
      this.watch = w;
      // An empty bucket delivers nothing before updates: there is nothing to load then.
      if ((await kv.status()).values === 0) markLoaded();
      for await (const e of w) {
        this.indexed(kv, e);
        if (e.delta === 0) markLoaded();
      }
    } catch (err) {
      if (!this.stopped) this.p.log.error("watching the dependants index failed", { error: (err as Error).message });
    } finally {
      markLoaded();
    }
  }

  private indexed(kv: KV, e: KvWatchEntry): void {
    if (e.key.includes(".")) {
      this.migrate(kv, e);
      return;
    }
    const dep = dependencyOfKey(e.key);
    if (e.operation !== "PUT") {
      this.watched.delete(dep);
      return;
    }
    this.watched.add(dep);
    // Its first dependants may have been indexed after it finished: look at it now (the entries
    // found at start are looked at by the sweep that follows the load, a few at a time).
    if (this.loaded) void this.check(dep);
  }

  /** Moves a key of the first layout (`<dependency>.<dependant>`, value: its queue) to the current one. */
  private migrate(kv: KV, e: KvWatchEntry): void {
    if (e.operation !== "PUT") return;
    const [dep, id] = e.key.split(".", 2) as [string, string];
    void (async () => {
      await addDependant(kv, dep, { id, queue: e.string() });
      await kv.delete(e.key);
    })().catch((err: Error) =>
      this.warn.warn("migrate", "could not move a dependants key of an earlier version", {
        key: e.key,
        error: err.message,
      }),
    );
  }

  /** Releases the dependants of `dep` if it has finished. */
  private check(dep: string): Promise<void> {
    return this.p.storage
      .loadRecord(dep)
      .then((rec) => {
        if (rec === null || (rec && isFinalState(rec.state))) this.release(dep);
      })
      .catch((err: Error) =>
        this.warn.warn("check", "could not check a dependency; it is checked again later", {
          task: dep,
          error: err.message,
        }),
      );
  }

  /** Checks every dependency that has dependants, a few at a time. */
  private sweep(): void {
    const deps = [...this.watched];
    const next = async (): Promise<void> => {
      for (let dep = deps.pop(); dep !== undefined && !this.stopped; dep = deps.pop()) await this.check(dep);
    };
    for (let i = 0; i < SWEEP_CONCURRENCY; i++) void next();
  }

  /** Settles the dependants of a finished task (serialised per dependency). */
  private release(dep: string): void {
    const before = this.releasing.get(dep) ?? Promise.resolve();
    const run = before
      .then(() => this.releaseNow(dep))
      .catch((err: Error) => {
        this.warn.warn("release", "could not release dependants; retrying at the next sweep", {
          task: dep,
          error: err.message,
        });
      })
      .finally(() => {
        if (this.releasing.get(dep) === run) this.releasing.delete(dep);
      });
    this.releasing.set(dep, run);
  }

  private async releaseNow(dep: string): Promise<void> {
    const { storage, dependencies, put } = this.p;
    const handled = new Set<string>();
    for (const d of await dependencies.dependantsOf(dep)) {
      const task = await storage.loadRecord(d.id);
      if (task && task.state === TaskState.Blocked) {
        const verdict = await dependencies.evaluate(task);
        // Still waiting for another dependency: it stays indexed under that one.
        if (verdict.kind !== "waiting") await dependencies.settle(task, verdict, put);
      }
      handled.add(d.id);
    }
    if (handled.size > 0) await dependencies.forget(dep, handled);
  }

  /** Stops following events and the index; releases in progress finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.sub?.unsubscribe();
    this.watch?.stop();
    this.unwatchConnection?.();
    await Promise.allSettled([...this.releasing.values()]);
  }
}
