/**
 * What the gateway's queue endpoints do with storage beyond the library's own calls: create a
 * queue cleanly.
 */
import type { QueueConfig, ResolvedQueue } from "../jobs/queue.js";
import { deleteDeadLetterStream } from "../jobs/storage/dead-letter-store.js";
import type { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import { queueStream } from "../jobs/storage/layout.js";

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
