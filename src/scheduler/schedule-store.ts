import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { NotFoundError, StorageError } from "../errors.js";
import { AckedPublisher } from "../nats/acked-publisher.js";
import { ensureStream, isNotFound, lastBySubject, wrapStorage } from "../nats/streams.js";
import {
  decodeSchedule,
  encodeCancel,
  encodeSchedule,
  isCancelMarker,
  SCHEDULE_SUBJECT_PREFIX,
  SCHEDULES_STREAM,
  SCHEDULES_SUBJECTS,
  type Schedule,
  scheduleSubject,
} from "./schedule.js";

/** How the schedules stream is created (used only when it does not exist). */
export interface ScheduleStoreOptions {
  /** Stream replicas. @defaultValue 1 */
  replicas?: number;
  /** Keep schedules in memory instead of files (not crash-safe). @defaultValue false */
  memory?: boolean;
  /**
   * Publish through this publisher (e.g. the task storage's) instead of one of the store's own;
   * `close()` then leaves it open. @defaultValue a new publisher
   */
  acks?: AckedPublisher;
}

/** Header making JetStream store a message only if its subject's last message has this sequence. */
const EXPECTED_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence";

/** True when a conditional {@link ScheduleStore.save} found the schedule replaced or cancelled meanwhile. */
export function isReplaced(err: unknown): boolean {
  return err instanceof StorageError && err.code === "wrong_last_sequence";
}

/** A stored schedule message as seen while following the stream. */
export interface StoredScheduleRef {
  key: string;
  seq: number;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  /** Messages still to come before the follower is caught up. */
  pending: number;
}

/**
 * The schedules stream: one message per pending schedule on `jetq.sched.<key>`, so a new schedule
 * with the same id replaces the old one, and a cancel marker replaces a schedule.
 */
export class ScheduleStore {
  readonly js: JetStreamClient;
  /** Pipelined acknowledged publishes (schedules accepted, fires into streams). */
  readonly acks: AckedPublisher;

  private readonly ownsAcks: boolean;

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    acks?: AckedPublisher,
  ) {
    this.js = jetstream(nc);
    this.ownsAcks = acks === undefined;
    this.acks = acks ?? new AckedPublisher(nc);
  }

  /** Releases the acknowledgement subscription (unless it was given in the options). */
  close(): void {
    if (this.ownsAcks) this.acks.close();
  }

  /** Opens the store, creating the stream when missing. */
  static async open(nc: NatsConnection, opts: ScheduleStoreOptions = {}): Promise<ScheduleStore> {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, {
      name: SCHEDULES_STREAM,
      subjects: [SCHEDULES_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 1,
      allow_direct: true,
      storage: opts.memory ? StorageType.Memory : StorageType.File,
      num_replicas: opts.replicas ?? 1,
    });
    return new ScheduleStore(nc, jsm, opts.acks);
  }

  /**
   * Stores a schedule (replacing one with the same id); resolves with its stream sequence once
   * stored. With `replacing`, stores it only if the id's stored message is still the one at that
   * sequence. @throws StorageError; `wrong_last_sequence` (see {@link isReplaced}) when it is not
   */
  async save(s: Schedule, opts: { replacing?: number } = {}): Promise<number> {
    const { subject, headers, data } = encodeSchedule(s);
    if (opts.replacing !== undefined) headers.set(EXPECTED_SUBJECT_SEQ, String(opts.replacing));
    try {
      return (await this.acks.publish(subject, data, headers)).seq;
    } catch (err) {
      throw wrapStorage(err, `storing schedule ${s.id}`);
    }
  }

  /** A pending schedule by id, or undefined. */
  async get(id: string): Promise<Schedule | undefined> {
    const m = await lastBySubject(this.jsm, SCHEDULES_STREAM, scheduleSubject(id));
    if (!m || isCancelMarker(m.header)) return undefined;
    return decodeSchedule(m.header, m.data);
  }

  /** The stored message at `seq`, or undefined when it was deleted or replaced. */
  async getBySeq(seq: number): Promise<{ headers: MsgHdrs | undefined; data: Uint8Array } | undefined> {
    try {
      const m = await this.jsm.direct.getMessage(SCHEDULES_STREAM, { seq });
      return m ? { headers: m.header, data: m.data } : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw wrapStorage(err, `reading schedule message ${seq}`);
    }
  }

  /**
   * Cancels a pending schedule by replacing it with a cancel marker.
   * @throws NotFoundError (`schedule_not_found`) when no such schedule is pending.
   */
  async cancel(id: string): Promise<void> {
    if (!(await this.get(id)))
      throw new NotFoundError("schedule_not_found", `no pending schedule with id ${JSON.stringify(id)}`);
    const { subject, headers } = encodeCancel(id);
    try {
      await this.acks.publish(subject, new Uint8Array(0), headers);
    } catch (err) {
      throw wrapStorage(err, `cancelling schedule ${id}`);
    }
  }

  /** Removes a message (a fired schedule or a processed cancel marker). Missing messages are fine. */
  async delete(seq: number): Promise<void> {
    try {
      await this.jsm.streams.deleteMessage(SCHEDULES_STREAM, seq, false);
    } catch (err) {
      if (!isNotFound(err)) throw wrapStorage(err, `deleting schedule message ${seq}`);
    }
  }

  /** Pending schedules in stream order, at most `limit`, starting after sequence `after`. */
  async list(limit: number, after = 0): Promise<{ schedules: Schedule[]; last: number }> {
    const info = await this.jsm.streams.info(SCHEDULES_STREAM);
    const out: Schedule[] = [];
    let last = after;
    if (info.state.messages === 0 || info.state.last_seq <= after) return { schedules: out, last };
    const consumer = await this.js.consumers.get(SCHEDULES_STREAM, {
      opt_start_seq: after + 1,
      deliver_policy: DeliverPolicy.StartSequence,
    });
    const messages = await consumer.consume();
    try {
      for await (const m of messages) {
        last = m.seq;
        if (!isCancelMarker(m.headers)) out.push(decodeSchedule(m.headers, m.data));
        if (out.length >= limit || m.info.pending === 0) break;
      }
    } finally {
      await messages.close();
    }
    return { schedules: out, last };
  }

  /**
   * Follows the stream from its start: every stored schedule or marker, then new ones as they are
   * stored. Close the returned messages to stop; map each with {@link scheduleRef}.
   */
  async follow(): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(SCHEDULES_STREAM);
    // Large pulls: a restart with a million pending schedules is read in big batches.
    return consumer.consume({ max_messages: 5000 });
  }

  /** Messages stored now (pending schedules and unprocessed markers). */
  async count(): Promise<number> {
    return (await this.jsm.streams.info(SCHEDULES_STREAM)).state.messages;
  }
}

/** The parts of a followed message the scheduler needs. */
export function scheduleRef(m: JsMsg): StoredScheduleRef {
  return {
    key: m.subject.slice(SCHEDULE_SUBJECT_PREFIX.length),
    seq: m.seq,
    headers: m.headers,
    data: m.data,
    pending: m.info.pending,
  };
}
