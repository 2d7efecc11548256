/**
 * The JetStream side of the dead-letter store: one stream per queue (`JETQ_DLQ_<queue>`) holding one
 * message per task (`jetq.dlq.<queue>.<task id>`, only the latest kept). The body is the task's wire
 * form as it was when it failed for good; two headers say why and when. docs/dead-letters.md
 * describes the format; `DeadLetters` (src/jobs/dead-letters.ts) is the API built on it.
 */
import { type MsgRequest, RetentionPolicy, type StoredMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { StorageError, ValidationError } from "../../errors.js";
import { ensureStream, isNotFound, wrapStorage } from "../../nats/streams.js";
import type { ResolvedQueue } from "../queue.js";
import { type Task, TaskState } from "../task.js";
import { handlesOf } from "./handles.js";
import type { JetStreamStorage } from "./jetstream-storage.js";
import {
  DEAD_LETTER_AT_HEADER,
  DEAD_LETTER_REASON_HEADER,
  deadLetterStream,
  deadLetterSubject,
  deadLetterSubjects,
} from "./layout.js";
import { decodeTask } from "./task-codec.js";

/** Why a task is in the dead-letter store: the final state it ended in. */
export type DeadLetterReason = "expired" | "terminated";

/** A task that failed for good, as its queue's dead-letter store keeps it. */
export interface DeadLetter {
  /** The task when it failed for good: state `expired` or `terminated`, with `lastError` and `failures`. */
  task: Task;
  /** The final state that put it here. */
  reason: DeadLetterReason;
  /** When it was dead-lettered, epoch ms. */
  deadAt: number;
  /** Its sequence in the queue's dead-letter stream: the paging cursor, and what a redrive de-duplicates on. */
  seq: number;
}

/** The reason to dead-letter a task that ended in `state`, or undefined when such tasks are not kept. */
export function deadLetterReason(state: TaskState): DeadLetterReason | undefined {
  return state === TaskState.Expired || state === TaskState.Terminated ? state : undefined;
}

const ns = (ms: number) => ms * 1_000_000;

/** Dead-letter streams known to exist, per storage (connection) and queue: a dead letter then costs no lookup. */
const known = new WeakMap<JetStreamStorage, Map<string, Promise<unknown>>>();

function forget(storage: JetStreamStorage, queue: string): void {
  known.get(storage)?.delete(queue);
}

/**
 * Creates a queue's dead-letter stream when missing, with the queue's retention and the storage's
 * placement. Checked once per storage and queue; an existing stream is left as it is.
 * @throws StorageError
 */
export function ensureDeadLetterStream(storage: JetStreamStorage, queue: ResolvedQueue): Promise<unknown> {
  let streams = known.get(storage);
  if (!streams) {
    streams = new Map();
    known.set(storage, streams);
  }
  const cached = streams.get(queue.name);
  if (cached) return cached;
  const ready = ensureStream(handlesOf(storage).jsm, {
    name: deadLetterStream(queue.name),
    subjects: [deadLetterSubjects(queue.name)],
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: 1,
    max_age: ns(queue.deadLetterRetentionMs),
    allow_direct: true,
    ...storage.streamPlacement,
  });
  streams.set(queue.name, ready);
  ready.catch(() => {
    if (streams.get(queue.name) === ready) streams.delete(queue.name);
  });
  return ready;
}

/** Deletes a queue's dead-letter stream (with the queue). */
export async function deleteDeadLetterStream(storage: JetStreamStorage, queue: string): Promise<void> {
  forget(storage, queue);
  try {
    await handlesOf(storage).jsm.streams.delete(deadLetterStream(queue));
  } catch (err) {
    if (!isNotFound(err)) throw wrapStorage(err, `deleting the dead letters of queue ${queue}`);
  }
}

/**
 * Stores a task as a dead letter and waits for JetStream to acknowledge it; a repeat for the same
 * task replaces its entry. The stream is created when needed (again if it was deleted meanwhile).
 * @returns the entry's stream sequence.
 * @throws StorageError, ValidationError (`payload_too_large`)
 */
export async function writeDeadLetter(
  storage: JetStreamStorage,
  queue: ResolvedQueue,
  task: Task,
  reason: DeadLetterReason,
  deadAt = Date.now(),
): Promise<number> {
  const h = headers();
  h.set(DEAD_LETTER_REASON_HEADER, reason);
  h.set(DEAD_LETTER_AT_HEADER, String(deadAt));
  const data = storage.encode(task);
  for (let attempt = 0; ; attempt++) {
    await ensureDeadLetterStream(storage, queue);
    try {
      return (await handlesOf(storage).acks.publish(deadLetterSubject(queue.name, task.id), data, h)).seq;
    } catch (err) {
      const vanished = err instanceof StorageError && err.code === "stream_not_found";
      if (!vanished || attempt > 0) throw wrapStorage(err, `dead-lettering task ${task.id}`);
      forget(storage, queue.name);
    }
  }
}

/** Reads a stored dead letter. @throws ValidationError (`corrupt_task`) when it does not decode. */
export function decodeDeadLetter(m: StoredMsg): DeadLetter {
  const task = decodeTask(m.data);
  const reason = deadLetterReason((m.header?.get(DEAD_LETTER_REASON_HEADER) || task.state) as TaskState);
  if (!reason) throw new ValidationError("corrupt_task", `dead letter ${m.subject} has no valid reason`);
  const at = Number(m.header?.get(DEAD_LETTER_AT_HEADER));
  return { task, reason, deadAt: Number.isFinite(at) && at > 0 ? at : m.time.getTime(), seq: m.seq };
}

/**
 * One stored entry, or undefined (also when the stream does not exist). Through the stream API, not
 * direct get: a queue without dead letters has no stream, and a direct get to a missing stream
 * gets no answer at all.
 */
async function readEntry(
  storage: JetStreamStorage,
  queue: string,
  query: { last_by_subj: string } | { seq: number; next_by_subj: string },
): Promise<StoredMsg | undefined> {
  try {
    return (await handlesOf(storage).jsm.streams.getMessage(deadLetterStream(queue), query as MsgRequest)) ?? undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw wrapStorage(err, `reading the dead letters of queue ${queue}`);
  }
}

/** The raw dead-letter entry of a task, or undefined. */
export function readDeadLetter(storage: JetStreamStorage, queue: string, id: string): Promise<StoredMsg | undefined> {
  return readEntry(storage, queue, { last_by_subj: deadLetterSubject(queue, id) });
}

/** The first raw dead-letter entry at or after stream sequence `seq`, or undefined. */
export function nextDeadLetter(storage: JetStreamStorage, queue: string, seq: number): Promise<StoredMsg | undefined> {
  return readEntry(storage, queue, { seq, next_by_subj: deadLetterSubjects(queue) });
}

/** Entries in a queue's dead-letter store and the newest one's sequence (zeros when it has no stream). */
export async function deadLetterState(
  storage: JetStreamStorage,
  queue: string,
): Promise<{ messages: number; lastSeq: number }> {
  try {
    const { state } = await handlesOf(storage).jsm.streams.info(deadLetterStream(queue));
    return { messages: state.messages, lastSeq: state.last_seq };
  } catch (err) {
    if (isNotFound(err)) return { messages: 0, lastSeq: 0 };
    throw wrapStorage(err, `reading the dead-letter stream of queue ${queue}`);
  }
}

/**
 * Deletes the dead letter at stream sequence `seq`. By sequence, not by subject: when the task
 * failed for good again meanwhile, its newer entry stays. @returns false when it was gone already.
 */
export async function deleteDeadLetter(storage: JetStreamStorage, queue: string, seq: number): Promise<boolean> {
  try {
    return await handlesOf(storage).jsm.streams.deleteMessage(deadLetterStream(queue), seq, false);
  } catch (err) {
    // A sequence deleted already answers "not found"; one past the end (a recreated stream) "EOF".
    if (isNotFound(err) || /stream store EOF/.test((err as Error).message)) return false;
    throw wrapStorage(err, `deleting dead letter ${seq} of queue ${queue}`);
  }
}

/** Removes one task's dead letter (`id`) or all of a queue's. @returns how many entries were removed. */
export async function purgeDeadLetters(storage: JetStreamStorage, queue: string, id?: string): Promise<number> {
  try {
    const opts = id === undefined ? undefined : { filter: deadLetterSubject(queue, id) };
    return (await handlesOf(storage).jsm.streams.purge(deadLetterStream(queue), opts)).purged;
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw wrapStorage(err, `purging the dead letters of queue ${queue}`);
  }
}
