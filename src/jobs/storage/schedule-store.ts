import {
  type ConsumerMessages,
  type JetStreamClient,
  JetStreamError,
  type JetStreamManager,
  type JsMsg,
  RetentionPolicy,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { NotFoundError, StorageError } from "../../errors.js";
import type { AckedPublisher } from "../../nats/acked-publisher.js";
import { ensureStream, isNotFound, lastBySubject, wrapStorage } from "../../nats/streams.js";
import { handlesOf } from "./handles.js";
import type { JetStreamStorage } from "./jetstream-storage.js";
import { MSG_ID_HEADER } from "./layout.js";
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
} from "./schedule-codec.js";
import { StreamTargets } from "./stream-targets.js";

/** Options of a {@link ScheduleStore}. */
export interface ScheduleStoreOptions {
  /**
   * How long one {@link ScheduleStore.list} call reads before it answers with the page it has
   * (plus at most one read's own timeout). @defaultValue 5000 ms
   */
  listTimeoutMs?: number;
}

/** A page of {@link ScheduleStore.list}. */
export interface SchedulePage {
  /** Pending schedules in stream order (at most the limit asked for). */
  schedules: Schedule[];
  /** Stream sequence of the last message read: the cursor of the next page. */
  last: number;
  /** True when messages stored before the listing began remain after `last`. */
  more: boolean;
}

/** Most bytes one batched read returns (a page of large schedules takes several reads). */
const PAGE_BYTES = 4 * 1024 * 1024;

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
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly nc: NatsConnection;
  private readonly acks: AckedPublisher;
  private readonly batched: boolean;
  private readonly targets: StreamTargets;
  private readonly listTimeoutMs: number;

  private constructor(storage: JetStreamStorage, opts: ScheduleStoreOptions) {
    const h = handlesOf(storage);
    this.nc = h.nc;
    this.js = h.js;
    this.jsm = h.jsm;
    this.acks = h.acks;
    this.batched = h.features.batchDirectGet;
    this.targets = new StreamTargets(h.jsm);
    this.listTimeoutMs = opts.listTimeoutMs ?? 5000;
  }

  /**
   * Opens the schedules of a storage, creating their stream (with the storage's replicas and
   * storage type) when missing. Publishes share the storage's acknowledged publisher. Most callers
   * want `storage.schedules()`, which opens it once.
   */
  static async open(storage: JetStreamStorage, opts: ScheduleStoreOptions = {}): Promise<ScheduleStore> {
    const { jsm, streamPlacement } = handlesOf(storage);
    await ensureStream(jsm, {
      name: SCHEDULES_STREAM,
      subjects: [SCHEDULES_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 1,
      allow_direct: true,
      ...streamPlacement,
    });
    return new ScheduleStore(storage, opts);
  }

  /**
   * Publishes a schedule's message to its target: acknowledged, with `Nats-Msg-Id`
   * `<id>:<due>` so a repeated fire is stored once, when a stream captures the target; a core NATS
   * publish otherwise.
   * @throws StorageError when a stream refused it or did not answer
   */
  async fire(s: Schedule, headers: MsgHdrs): Promise<void> {
    if (await this.targets.isStream(s.target)) {
      headers.set(MSG_ID_HEADER, `${s.id}:${s.due}`);
      await this.acks.publish(s.target, s.payload, headers);
    } else {
      this.nc.publish(s.target, s.payload, { headers });
    }
  }

  /**
   * Stores a schedule (replacing one with the same id); resolves with its stream sequence once
   * stored. With `replacing`, stores it only if the id's stored message is still the one at that
   * sequence; `msgId` de-duplicates a repeated save within the stream's duplicate window.
   * @throws StorageError; `wrong_last_sequence` (see {@link isReplaced}) when the expected sequence did not hold
   */
  async save(s: Schedule, opts: { replacing?: number; msgId?: string } = {}): Promise<number> {
    const { subject, headers, data } = encodeSchedule(s);
    if (opts.replacing !== undefined) headers.set(EXPECTED_SUBJECT_SEQ, String(opts.replacing));
    if (opts.msgId !== undefined) headers.set(MSG_ID_HEADER, opts.msgId);
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

  /**
   * Removes a message (a fired one-shot schedule, a processed cancel marker, a corrupt schedule);
   * pipelined with other deletes and publishes. A message already gone (replaced by a newer one
   * with the same id, or deleted) is fine.
   */
  async delete(seq: number): Promise<void> {
    try {
      await this.acks.deleteMessage(SCHEDULES_STREAM, seq);
    } catch (err) {
      throw wrapStorage(err, `deleting schedule message ${seq}`);
    }
  }

  /**
   * Pending schedules in stream order, at most `limit`, after stream sequence `after`. Reads only
   * what was stored when the call began (up to the stream's last sequence then), so schedules added
   * meanwhile cannot keep it going, and answers within {@link ScheduleStoreOptions.listTimeoutMs}
   * with what it has read (`more` tells whether to go on). Creates no consumer: direct gets, a
   * batch per request on servers that have them (2.11+), one message per request before. A
   * message that does not decode is passed to `onUnreadable` and skipped.
   */
  async list(
    limit: number,
    after = 0,
    onUnreadable: (seq: number, err: unknown) => void = () => undefined,
  ): Promise<SchedulePage> {
    const deadline = Date.now() + this.listTimeoutMs;
    let end: number;
    try {
      end = (await this.jsm.streams.info(SCHEDULES_STREAM)).state.last_seq;
    } catch (err) {
      throw wrapStorage(err, "listing schedules");
    }
    const schedules: Schedule[] = [];
    let last = Math.max(0, after);
    // At least one read per call, however short the timeout: every call moves the cursor on.
    while (schedules.length < limit && last < end) {
      const page = this.batched
        ? await this.readBatch(last + 1, limit - schedules.length)
        : await this.readNext(last + 1);
      if (page.length === 0) {
        last = end; // nothing stored after `last`
        break;
      }
      for (const m of page) {
        if (m.seq > end) {
          last = end; // stored after the listing began
          break;
        }
        if (schedules.length >= limit) break;
        last = m.seq;
        if (isCancelMarker(m.header)) continue;
        try {
          schedules.push(decodeSchedule(m.header, m.data));
        } catch (err) {
          onUnreadable(m.seq, err);
        }
      }
      if (Date.now() >= deadline) break;
    }
    return { schedules, last, more: last < end };
  }

  /** The first stored message at or after `seq` (2.9: one message per direct get). */
  private async readNext(seq: number): Promise<StoredMsg[]> {
    try {
      const m = await this.jsm.direct.getMessage(SCHEDULES_STREAM, { seq, next_by_subj: SCHEDULES_SUBJECTS });
      return m ? [m] : [];
    } catch (err) {
      if (isNotFound(err)) return [];
      throw wrapStorage(err, "listing schedules");
    }
  }

  /** Up to `n` stored messages from `seq` on, in one batched direct get (2.11+). */
  private async readBatch(seq: number, n: number): Promise<StoredMsg[]> {
    const out: StoredMsg[] = [];
    try {
      const iter = await this.jsm.direct.getBatch(SCHEDULES_STREAM, {
        seq,
        batch: n,
        max_bytes: PAGE_BYTES,
        next_by_subj: SCHEDULES_SUBJECTS,
      });
      for await (const m of iter) out.push(m);
    } catch (err) {
      // Nothing stored from `seq` on: the batch ends with a 404 status, not an API error.
      const none = isNotFound(err) || (err instanceof JetStreamError && (err as { code?: unknown }).code === 404);
      if (!none) throw wrapStorage(err, "listing schedules");
    }
    return out;
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

  /** Stream sequence of the last message stored now (a schedule or a marker); 0 when there is none. */
  async lastSeq(): Promise<number> {
    return (await lastBySubject(this.jsm, SCHEDULES_STREAM, SCHEDULES_SUBJECTS))?.seq ?? 0;
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
