/**
 * How fast queues move, measured from their streams' counters over a short interval: items
 * written (enqueued), items removed (finished: completed, failed for good, cancelled or purged)
 * and tasks dead-lettered. No process needs to run metrics for this.
 */
import { isNotFound, wrapStorage } from "../../nats/streams.js";
import { deadLetterState } from "./dead-letter-store.js";
import { handlesOf } from "./handles.js";
import type { JetStreamStorage } from "./jetstream-storage.js";
import { queueStream } from "./layout.js";

/** Rates of one queue, per second, over the sampled interval. */
export interface QueueRates {
  enqueuedPerSec: number;
  finishedPerSec: number;
  deadLetteredPerSec: number;
}

interface Counters {
  written: number;
  removed: number;
  dead: number;
}

async function counters(storage: JetStreamStorage, queue: string): Promise<Counters | undefined> {
  try {
    const { state } = await handlesOf(storage).jsm.streams.info(queueStream(queue));
    const dead = await deadLetterState(storage, queue);
    return { written: state.last_seq, removed: state.last_seq - state.messages, dead: dead.lastSeq };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw wrapStorage(err, `reading queue ${queue}`);
  }
}

/**
 * Samples the counters of `queues`, waits `intervalMs`, samples again, and returns each queue's
 * rates (queues deleted meanwhile are left out).
 * @throws StorageError
 */
export async function sampleQueueRates(
  storage: JetStreamStorage,
  queues: string[],
  intervalMs: number,
): Promise<Map<string, QueueRates>> {
  const t0 = performance.now();
  const before = await Promise.all(queues.map((q) => counters(storage, q)));
  await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (performance.now() - t0))));
  const after = await Promise.all(queues.map((q) => counters(storage, q)));
  const seconds = (performance.now() - t0) / 1000;
  const rates = new Map<string, QueueRates>();
  const per = (d: number) => Math.max(0, d) / seconds;
  queues.forEach((q, i) => {
    const a = before[i];
    const b = after[i];
    if (!a || !b) return;
    rates.set(q, {
      enqueuedPerSec: per(b.written - a.written),
      finishedPerSec: per(b.removed - a.removed),
      deadLetteredPerSec: per(b.dead - a.dead),
    });
  });
  return rates;
}
