import { isNotFound, wrapStorage } from "../../nats/streams.js";
import type { Task } from "../task.js";
import { handlesOf } from "./handles.js";
import type { JetStreamStorage } from "./jetstream-storage.js";
import { levelOfConsumer, levelSubjects, queueStream } from "./layout.js";
import { decodeTask } from "./task-codec.js";

/** A work item that no consumer will deliver again (see {@link orphanedItems}). */
export interface OrphanedItem {
  /** Its stream sequence. */
  seq: number;
  /** The task it carries; undefined when it does not decode (it was acknowledged as corrupt). */
  task?: Task;
}

/**
 * The work items of a queue that sit at or below their level consumer's acknowledgement floor:
 * acknowledged, yet still in the work-queue stream. A server that crashed between storing an
 * acknowledgement and removing the item leaves these behind (docs/operations.md); no consumer will
 * deliver them again. Cheap when there are none: the stream's count is compared with what the
 * consumers account for before any item is read.
 */
export async function* orphanedItems(storage: JetStreamStorage, queue: string): AsyncGenerator<OrphanedItem> {
  const { jsm, reader } = handlesOf(storage);
  const stream = queueStream(queue);
  const floors: { level: number; floor: number }[] = [];
  let messages: number;
  let firstSeq: number;
  try {
    const info = await jsm.streams.info(stream);
    messages = info.state.messages;
    firstSeq = info.state.first_seq;
    if (messages === 0) return;
    let accounted = 0;
    for await (const c of jsm.consumers.list(stream)) {
      const level = levelOfConsumer(c.name);
      if (level === undefined) continue;
      accounted += c.num_pending + c.num_ack_pending;
      floors.push({ level, floor: c.ack_floor.stream_seq });
    }
    if (messages <= accounted) return;
  } catch (err) {
    if (isNotFound(err)) return;
    throw wrapStorage(err, `reading queue ${queue}`);
  }
  for (const { level, floor } of floors) {
    for (let seq = firstSeq; seq <= floor; ) {
      const m = await reader.get(stream, { seq, next_by_subj: levelSubjects(queue, level) });
      if (!m || m.seq > floor) break;
      seq = m.seq + 1;
      let task: Task | undefined;
      try {
        task = decodeTask(m.data);
      } catch {
        task = undefined;
      }
      yield task ? { seq: m.seq, task } : { seq: m.seq };
    }
  }
}

/** Deletes the work item at stream sequence `seq` of a queue (gone already is fine). */
export async function deleteWorkItemAt(storage: JetStreamStorage, queue: string, seq: number): Promise<void> {
  try {
    await handlesOf(storage).jsm.streams.deleteMessage(queueStream(queue), seq, false);
  } catch (err) {
    if (!isNotFound(err) && !/no message found/i.test((err as Error).message))
      throw wrapStorage(err, `removing an item of queue ${queue}`);
  }
}
