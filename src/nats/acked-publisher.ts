import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { StorageError } from "../errors.js";
import { type Outgoing, ReplyInbox } from "./reply-inbox.js";

/** Options of {@link AckedPublisher}. */
export interface AckedPublisherOptions {
  /** How long to wait for an answer, ms. @defaultValue 5000 */
  timeoutMs?: number;
  /**
   * Hold writes made while the last flush is unanswered and send them together (`ReplyInbox`):
   * `"answers"` once that flush is answered, `"turn"` at the end of the event loop's turn at the
   * latest, `false` never. Fewer socket writes for many independent callers (HTTP requests), at up
   * to a round trip (`"answers"`) or a turn (`"turn"`) of latency each. @defaultValue "answers"
   */
  coalesce?: "answers" | "turn" | false;
}

/** What JetStream answered for a stored message. */
export interface StoredAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/** JetStream's error code for a failed `Nats-Expected-Last-Sequence` / `-Subject-Sequence` check. */
const WRONG_LAST_SEQUENCE = 10071;
/** JetStream's error codes of a delete whose message is not there. */
const SEQUENCE_NOT_FOUND = 10043;
const MESSAGE_DELETE_FAILED = 10057;
/** JetStream's error code for an API call on a stream that does not exist. */
const STREAM_NOT_FOUND = 10059;

const utf8 = new TextDecoder();

/** Headers of an atomic batch publish (ADR-50). */
const BATCH_ID_HEADER = "Nats-Batch-Id";
const BATCH_SEQUENCE_HEADER = "Nats-Batch-Sequence";
const BATCH_COMMIT_HEADER = "Nats-Batch-Commit";

/** A JetStream answer: a publish acknowledgement or an API response. */
interface Answer {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  success?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

/** Turns an answer into the caller's result; throws (a StorageError) to reject it. */
type Reader<T> = (a: Answer, w: Waiting) => T;

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  read: Reader<unknown>;
  at: number;
  /** The subject of the request, for error messages (`what`, when unset, says "a message on" it). */
  subject: string;
  /** What was sent, for error messages, when not a plain publish: "deleting …", "a batch of …". */
  what?: string;
}

/** What a request was, for error messages: built only when one is needed. */
const describe = (w: Waiting): string => w.what ?? `a message on ${w.subject}`;

const readStored: Reader<StoredAck> = (a, w) => {
  if (a.error || typeof a.seq !== "number") {
    throw new StorageError(
      a.error?.err_code === WRONG_LAST_SEQUENCE ? "wrong_last_sequence" : "publish_rejected",
      `JetStream refused ${describe(w)}: ${a.error?.description ?? "no sequence"}`,
    );
  }
  return { stream: a.stream ?? "", seq: a.seq, duplicate: a.duplicate === true };
};

const readBatch: Reader<number> = (a, w) => {
  if (a.error || typeof a.seq !== "number")
    throw new StorageError(
      "batch_rejected",
      `JetStream refused ${describe(w)}: ${a.error?.description ?? "no sequence"}`,
    );
  return a.seq;
};

const readDelete: Reader<boolean> = (a, w) => {
  if (a.success === true) return true;
  const code = a.error?.err_code;
  const missing = /not found|no message found|store EOF/i.test(a.error?.description ?? "");
  if (code === SEQUENCE_NOT_FOUND || (code === MESSAGE_DELETE_FAILED && missing)) return false;
  throw new StorageError(
    code === STREAM_NOT_FOUND ? "stream_not_found" : "delete_rejected",
    `JetStream refused ${describe(w)}: ${a.error?.description ?? "no answer"}`,
  );
};

/**
 * Publishes to JetStream, or deletes stored messages, and resolves with the server's answer, for
 * many in flight at once. It does what `js.publish` and `jsm.streams.deleteMessage` do with less
 * work per message: one wildcard reply subscription and one sweep timer for all of them, instead
 * of a request object, a timer and two stack-capturing errors each — the difference is most of the
 * client CPU of an enqueue, and of a scheduler recording its fires.
 */
export class AckedPublisher {
  private readonly inbox: ReplyInbox<Waiting>;
  private readonly timeoutMs: number;

  constructor(nc: NatsConnection, opts: AckedPublisherOptions = {}) {
    const timeoutMs = opts.timeoutMs ?? 5000;
    this.timeoutMs = timeoutMs;
    this.inbox = new ReplyInbox<Waiting>({
      nc,
      timeoutMs,
      coalesce: opts.coalesce ?? "answers",
      onAnswer: (m, id, w) => {
        this.inbox.done(id);
        this.answer(m, w);
      },
      timedOut: (w) => new StorageError("publish_timeout", `no answer to ${describe(w)} within ${this.timeoutMs} ms`),
      closed: (w) => new StorageError("publish_failed", `publisher closed before an answer to ${describe(w)}`),
      unsent: (w, err) =>
        new StorageError("publish_failed", `sending ${describe(w)}: ${(err as Error).message}`, { cause: err }),
    });
  }

  /**
   * Publishes `data` to `subject` (a stream subject) and resolves once JetStream stored it.
   * @throws StorageError: `stream_not_found` (no stream has the subject), `wrong_last_sequence`
   * (a `Nats-Expected-Last-*` header did not hold), `publish_rejected` (JetStream refused it
   * otherwise, e.g. a full stream), `publish_timeout`.
   */
  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<StoredAck> {
    return this.send({ subject, data, headers }, readStored);
  }

  /**
   * Publishes messages to one stream as an atomic batch (nats-server 2.12+, the stream created with
   * `allow_atomic`): all are stored, or none. Only the last one is acknowledged, so a batch costs
   * the client one answer instead of one per message. `batchId` names the batch (unique per
   * connection); the messages' headers get the batch headers added.
   * @throws StorageError `batch_rejected` (JetStream refused the batch, e.g. it holds a message id
   * already stored: nothing was stored), or as {@link publish}
   */
  publishBatch(batchId: string, messages: { subject: string; data: Uint8Array; headers: MsgHdrs }[]): Promise<number> {
    messages.forEach((m, i) => {
      m.headers.set(BATCH_ID_HEADER, batchId);
      m.headers.set(BATCH_SEQUENCE_HEADER, String(i + 1));
    });
    const commit = messages[messages.length - 1]!;
    commit.headers.set(BATCH_COMMIT_HEADER, "1");
    return this.send(commit, readBatch, `a batch of ${messages.length}`, messages.slice(0, -1));
  }

  /**
   * Deletes the message at `seq` from `stream` (its data is not overwritten on disk); resolves
   * with false when there is no such message.
   * @throws StorageError: `stream_not_found`, `delete_rejected` (e.g. the stream denies deletes), `publish_timeout`.
   */
  deleteMessage(stream: string, seq: number): Promise<boolean> {
    const body = new TextEncoder().encode(JSON.stringify({ seq, no_erase: true }));
    const subject = `$JS.API.STREAM.MSG.DELETE.${stream}`;
    return this.send({ subject, data: body }, readDelete, `deleting ${stream} #${seq}`);
  }

  private send<T>(request: Outgoing, read: Reader<T>, what?: string, before?: readonly Outgoing[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiting = {
        resolve: resolve as (value: unknown) => void,
        reject,
        read,
        at: Date.now(),
        subject: request.subject,
        what,
      };
      this.inbox.send(w, request, before);
    });
  }

  private answer(m: Msg, w: Waiting): void {
    if (m.data.byteLength === 0 && m.headers?.code === 503) {
      w.reject(new StorageError("stream_not_found", `no stream answered ${describe(w)} (none has that subject)`));
      return;
    }
    let a: Answer;
    try {
      a = JSON.parse(utf8.decode(m.data));
    } catch {
      w.reject(new StorageError("publish_rejected", `unreadable answer to ${describe(w)}`));
      return;
    }
    let value: unknown;
    try {
      value = w.read(a, w);
    } catch (err) {
      w.reject(err as Error);
      return;
    }
    w.resolve(value);
  }

  /** Stops listening; what is still waiting fails. */
  close(): void {
    this.inbox.close();
  }
}
