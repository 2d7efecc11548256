import type { KV } from "@nats-io/kv";
import { StateError } from "../errors.js";
import type { DelayedTasks } from "./delayed-tasks.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { isFinalState, type Task, TaskState } from "./task.js";

export { CANCEL_REQUEST_TTL_MS } from "./storage/layout.js";

/**
 * Cancellation requests: one KV key per task id, kept {@link CANCEL_REQUEST_TTL_MS}. A request is
 * durable once {@link request} resolves; workers follow the bucket ({@link watch}) to abort tasks
 * they run and to settle, without running them, cancelled tasks they are handed.
 */
export class Cancellations {
  private readonly requested = new Set<string>();
  private readonly listeners = new Set<(taskId: string) => void>();
  private watcher?: Promise<{ stop(): void }>;

  private constructor(private readonly kv: KV) {}

  /** Opens the requests of a storage (its `cancels` bucket). */
  static async open(storage: JetStreamStorage): Promise<Cancellations> {
    return new Cancellations(await storage.bucket("cancels"));
  }

  /** Stores a cancellation request for a task. */
  async request(taskId: string): Promise<void> {
    await this.kv.put(taskId, JSON.stringify({ at: Date.now() }));
  }

  /** True when cancellation of the task was requested (as seen by {@link watch} so far). */
  has(taskId: string): boolean {
    return this.requested.has(taskId);
  }

  /**
   * Calls `listener` for every request stored from now on (and remembers all requests, earlier
   * ones too, for {@link has}); the first call starts following the bucket. Returns a function that
   * removes the listener.
   */
  async listen(listener: (taskId: string) => void): Promise<() => void> {
    this.listeners.add(listener);
    this.watcher ??= this.follow();
    await this.watcher;
    return () => this.listeners.delete(listener);
  }

  private async follow(): Promise<{ stop(): void }> {
    const w = await this.kv.watch({ ignoreDeletes: true });
    void (async () => {
      for await (const e of w) {
        if (e.operation !== "PUT") continue;
        this.requested.add(e.key);
        for (const l of this.listeners) l(e.key);
      }
    })().catch(() => undefined); // the watch ends with the connection
    return w;
  }

  /** Stops following requests. */
  async stop(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    (await w)?.stop();
  }
}

/**
 * Cancels a task (see `Client.cancelTask`): stores the request, then — unless a worker is running
 * the task, which it then aborts — removes the schedule of a delayed task, records the task as
 * `cancelled` and removes its work item. The request is stored first, so a worker handed the item
 * meanwhile (or a delayed task firing meanwhile) settles it as cancelled without running it.
 * @throws NotFoundError (`task_not_found`), StateError (`task_finished`)
 */
export async function cancelTask(
  storage: JetStreamStorage,
  cancels: Cancellations,
  delayed: DelayedTasks,
  id: string,
): Promise<Task> {
  const task = await storage.loadTask(id);
  if (isFinalState(task.state)) throw new StateError("task_finished", `task ${id} already ended as ${task.state}`);
  await cancels.request(id);
  if (task.state === TaskState.Active) return task;
  if (task.state === TaskState.Delayed) await delayed.cancel(id);
  task.state = TaskState.Cancelled;
  task.lastError = "cancelled";
  await storage.saveRecord(task);
  await storage.removeWorkItem(task.queue, id);
  storage.announce(task);
  return task;
}
