/**
 * What the gateway's producer endpoints and `/peek` do with storage: write a task the way
 * `Client.enqueue` does, and read a queue's items without dispatching them.
 */
import type { QueueConfig, ResolvedQueue } from "../jobs/queue.js";
import { deleteDeadLetterStream } from "../jobs/storage/dead-letter-store.js";
import type { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import { queueStream, queueSubjects } from "../jobs/storage/layout.js";
import { decodeTask } from "../jobs/storage/task-codec.js";
import type { Task } from "../jobs/task.js";
import { isNotFound, wrapStorage } from "../nats/streams.js";

/**
 * Creates a queue (or binds to the existing one, as `prepareQueue`). If creating it fails part way
 * (say, the stream was made but a consumer or the definition could not be), what was made is
 * removed again, so a later try starts clean instead of finding a queue without a definition.
 * @throws ValidationError (`invalid_queue_config`, …), StorageError
 */
export async function createQueue(storage: JetStreamStorage, config: QueueConfig): Promise<ResolvedQueue> {
  try {
    return await storage.prepareQueue(config);
  } catch (err) {
    const defined = await storage.findQueue(config.name).catch(() => undefined);
    if (!defined) {
      await storage.jsm.streams.delete(queueStream(config.name)).catch(() => undefined);
      await deleteDeadLetterStream(storage, config.name).catch(() => undefined);
    }
    throw err;
  }
}

/**
 * Writes `task` to the existing queue `queue` (record, work item, events), as `Client.enqueue`.
 * An id enqueued again within the de-duplication window is stored once.
 * @throws ValidationError (`payload_too_large`), StorageError
 */
export async function enqueueTask(storage: JetStreamStorage, task: Task, queue: string): Promise<Task> {
  task.queue = queue;
  await storage.addTask(task);
  return task;
}

/**
 * Up to `n` items of a queue in queue order, without dispatching them: waiting and in-flight items
 * alike, skipping corrupt items and tasks past their deadline (they will never be dispatched).
 * A queue that does not exist has no items.
 */
export async function peekQueue(
  storage: JetStreamStorage,
  queue: string,
  n: number,
  now = Date.now(),
): Promise<Task[]> {
  const out: Task[] = [];
  if (n <= 0 || !(await storage.findQueue(queue))) return out;
  const stream = queueStream(queue);
  try {
    const { state } = await storage.jsm.streams.info(stream);
    let seq = state.first_seq;
    while (out.length < n && state.messages > 0 && seq <= state.last_seq) {
      const m = await storage.jsm.direct.getMessage(stream, { seq, next_by_subj: queueSubjects(queue) });
      if (!m) break;
      seq = m.seq + 1;
      let task: Task;
      try {
        task = decodeTask(m.data);
      } catch {
        continue;
      }
      if (task.deadline === undefined || task.deadline >= now) out.push(task);
    }
  } catch (err) {
    if (isNotFound(err)) return out;
    throw wrapStorage(err, `peeking into queue ${queue}`);
  }
  return out;
}
