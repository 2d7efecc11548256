import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/nats-core";
import { createInbox } from "@nats-io/nats-core";
import { StorageError } from "../errors.js";

/** What JetStream answered for a stored message. */
export interface StoredAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/** JetStream's error code for a failed `Nats-Expected-Last-Sequence` / `-Subject-Sequence` check. */
const WRONG_LAST_SEQUENCE = 10071;

interface Waiting {
  resolve: (ack: StoredAck) => void;
  reject: (err: Error) => void;
  at: number;
  subject: string;
}

/**
 * Publishes to JetStream and resolves with the server's acknowledgement, for many messages in
 * flight at once. It does what `js.publish` does with less work per message: one wildcard reply
 * subscription and one sweep timer for all publishes, instead of a request object, a timer and two
 * stack-capturing errors each — the difference is most of the client CPU of an enqueue.
 */
export class AckedPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, Waiting>();
  private readonly sweeper: NodeJS.Timeout;
  private next = 0;

  /** @param timeoutMs how long to wait for an acknowledgement. @defaultValue 5000 */
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (_err, m) => this.answer(m) });
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, timeoutMs));
    this.sweeper.unref();
  }

  /**
   * Publishes `data` to `subject` (a stream subject) and resolves once JetStream stored it.
   * @throws StorageError: `stream_not_found` (no stream has the subject), `wrong_last_sequence`
   * (a `Nats-Expected-Last-*` header did not hold), `publish_rejected` (JetStream refused it
   * otherwise, e.g. a full stream), `publish_timeout`.
   */
  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<StoredAck> {
    const id = ++this.next;
    return new Promise<StoredAck>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, at: Date.now(), subject });
      try {
        this.nc.publish(subject, data, { reply: this.prefix + id, ...(headers ? { headers } : {}) });
      } catch (err) {
        this.waiting.delete(id);
        reject(
          new StorageError("publish_failed", `publishing to ${subject}: ${(err as Error).message}`, { cause: err }),
        );
      }
    });
  }

  private answer(m: Msg): void {
    const id = Number(m.subject.slice(this.prefix.length));
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (m.data.byteLength === 0 && m.headers?.code === 503) {
      w.reject(new StorageError("stream_not_found", `no stream stores subject ${w.subject}`));
      return;
    }
    let ack: {
      stream?: string;
      seq?: number;
      duplicate?: boolean;
      error?: { code?: number; err_code?: number; description?: string };
    };
    try {
      ack = JSON.parse(new TextDecoder().decode(m.data));
    } catch {
      w.reject(new StorageError("publish_rejected", `unreadable acknowledgement for ${w.subject}`));
      return;
    }
    if (ack.error || typeof ack.seq !== "number") {
      w.reject(
        new StorageError(
          ack.error?.err_code === WRONG_LAST_SEQUENCE ? "wrong_last_sequence" : "publish_rejected",
          `JetStream refused a message on ${w.subject}: ${ack.error?.description ?? "no sequence"}`,
        ),
      );
      return;
    }
    w.resolve({ stream: ack.stream ?? "", seq: ack.seq, duplicate: ack.duplicate === true });
  }

  private sweep(): void {
    const limit = Date.now() - this.timeoutMs;
    for (const [id, w] of this.waiting) {
      if (w.at > limit) break; // insertion order is publish order
      this.waiting.delete(id);
      w.reject(new StorageError("publish_timeout", `no acknowledgement for ${w.subject} within ${this.timeoutMs} ms`));
    }
  }

  /** Stops listening; publishes still waiting fail. */
  close(): void {
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const w of this.waiting.values())
      w.reject(new StorageError("publish_failed", `publisher closed before ${w.subject} was acknowledged`));
    this.waiting.clear();
  }
}
