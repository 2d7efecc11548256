import type { KeyObject } from "node:crypto";
import { signTask } from "./signing.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { type Task, TaskState } from "./task.js";

/**
 * Runs a task again from scratch (tries reset to 0, result dropped), removing any work item it
 * still has; signed again with `key` when one is given. Used by `Client.retryTask` and the
 * dashboard of `jetq serve`.
 * @throws NotFoundError (`task_not_found`)
 */
export async function retryTask(storage: JetStreamStorage, id: string, key?: KeyObject): Promise<Task> {
  const task = await storage.loadTask(id);
  await storage.removeWorkItem(task.queue, id);
  task.tries = 0;
  task.run = await storage.nextRun(task);
  delete task.result;
  task.state = TaskState.New;
  if (key) task.signature = signTask(task, key);
  await storage.enqueue(task, storage.encode(task), `${id}:retry:${Date.now()}`);
  storage.publishEvents(task);
  return task;
}
