import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { createInbox } from "@nats-io/nats-core";

/** What a {@link ReplyInbox} keeps per request: when it was sent, and how to fail it. */
export interface AwaitedReply {
  /** Epoch ms the request was sent. */
  at: number;
  reject: (err: Error) => void;
}

/** Parameters of {@link ReplyInbox}. */
export interface ReplyInboxParams<E extends AwaitedReply> {
  nc: NatsConnection;
  /** How long to wait for an answer, ms. */
  timeoutMs: number;
  /** Called with each message answering a request still waiting (remove it with {@link ReplyInbox.done}). */
  onAnswer: (m: Msg, id: number, entry: E) => void;
  /** The error of a request not answered within the timeout. */
  timedOut: (entry: E) => Error;
  /** The error of a request still waiting when the inbox closes. */
  closed: (entry: E) => Error;
}

/**
 * Answers to many requests in flight at once on one wildcard reply subscription, with one sweep
 * timer failing those unanswered in time — instead of a request object, a timer and two
 * stack-capturing errors per request as nats.js' request API makes. Used by the acknowledged
 * publisher and the direct reader, on the hot paths of enqueue, records and start checks.
 */
export class ReplyInbox<E extends AwaitedReply> {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, E>();
  private readonly sweeper: NodeJS.Timeout;
  private next = 0;

  constructor(private readonly p: ReplyInboxParams<E>) {
    this.prefix = `${createInbox()}.`;
    this.sub = p.nc.subscribe(`${this.prefix}*`, { callback: (_err, m) => this.answer(m) });
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, p.timeoutMs));
    this.sweeper.unref();
  }

  /** Registers a request and returns its reply subject and id. */
  add(entry: E): { reply: string; id: number } {
    const id = ++this.next;
    this.waiting.set(id, entry);
    return { reply: this.prefix + id, id };
  }

  /** Forgets a request: answered, or never sent. */
  done(id: number): void {
    this.waiting.delete(id);
  }

  private answer(m: Msg): void {
    const id = Number(m.subject.slice(this.prefix.length));
    const entry = this.waiting.get(id);
    if (entry) this.p.onAnswer(m, id, entry);
  }

  private sweep(): void {
    const limit = Date.now() - this.p.timeoutMs;
    for (const [id, entry] of this.waiting) {
      if (entry.at > limit) break; // insertion order is send order
      this.waiting.delete(id);
      entry.reject(this.p.timedOut(entry));
    }
  }

  /** Stops listening; what is still waiting fails. */
  close(): void {
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const entry of this.waiting.values()) entry.reject(this.p.closed(entry));
    this.waiting.clear();
  }
}
