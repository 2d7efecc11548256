import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/nats-core";
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
  /** The error of a request the connection would not take (e.g. it is closed). */
  unsent: (entry: E, err: unknown) => Error;
  /**
   * Send requests made while others are in flight at the end of the event loop's turn, together,
   * rather than at once. Worth it for requests that come from many separate callbacks (HTTP
   * requests, each on its own socket); it delays each by the rest of its turn, so callers that
   * already batch per turn (the intake's record reads) should send at once. @defaultValue false
   */
  coalesce?: boolean;
}

/** A message to publish. */
export interface Outgoing {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
}

/** A request waiting for the end of the event loop's turn, with the messages that go before it. */
interface Queued<E> {
  id: number;
  entry: E;
  request: Outgoing;
  before: readonly Outgoing[];
}

/**
 * Sends requests and collects their answers, for many in flight at once: one wildcard reply
 * subscription, and one sweep timer failing those unanswered in time — instead of a request object,
 * a timer and two stack-capturing errors per request as nats.js' request API makes. With
 * `coalesce`, requests made while others are in flight wait for the end of the event loop's turn
 * and go out together: nats.js writes to the socket once per microtask checkpoint, and a server
 * answering many HTTP requests (each its own I/O callback, each followed by a checkpoint) would
 * otherwise make one socket write, and one read on the server, per request. A request made when
 * none is in flight goes at once, so one-at-a-time callers pay no extra turn. Used by the
 * acknowledged publisher (coalescing) and the direct reader, on the hot paths of enqueue, records
 * and start checks.
 */
export class ReplyInbox<E extends AwaitedReply> {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, E>();
  private readonly sweeper: NodeJS.Timeout;
  private next = 0;
  /** Requests waiting for the end of this turn; a send is scheduled while it is not empty. */
  private queued: Queued<E>[] = [];
  private closing = false;

  constructor(private readonly p: ReplyInboxParams<E>) {
    this.prefix = `${createInbox()}.`;
    this.sub = p.nc.subscribe(`${this.prefix}*`, { callback: (_err, m) => this.answer(m) });
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, p.timeoutMs));
    this.sweeper.unref();
  }

  /**
   * Sends `request` after the messages of `before` (in order, answered by nobody: e.g. the members
   * of an atomic batch whose commit is the request) — at once, or (with `coalesce`, while another
   * request is in flight) at the end of this turn of the event loop with the others made in it.
   * Its answers go to `onAnswer` with `entry`; a connection that refuses the messages rejects it.
   * Requests go out in the order they were made.
   */
  send(entry: E, request: Outgoing, before: readonly Outgoing[] = []): void {
    if (this.closing) {
      entry.reject(this.p.closed(entry));
      return;
    }
    const q = { id: ++this.next, entry, request, before };
    const atOnce = !this.p.coalesce || this.waiting.size === 0;
    this.waiting.set(q.id, entry);
    if (atOnce) {
      this.publish(q);
      return;
    }
    if (this.queued.push(q) === 1) setImmediate(() => this.sendQueued());
  }

  /** Forgets a request: answered, or never sent. */
  done(id: number): void {
    this.waiting.delete(id);
  }

  private sendQueued(): void {
    const queued = this.queued;
    this.queued = [];
    for (const q of queued) if (this.waiting.has(q.id)) this.publish(q); // else it failed meanwhile
  }

  private publish(q: Queued<E>): void {
    try {
      for (const m of q.before) this.p.nc.publish(m.subject, m.data, m.headers ? { headers: m.headers } : undefined);
      const { subject, data, headers } = q.request;
      const reply = this.prefix + q.id;
      this.p.nc.publish(subject, data, headers ? { reply, headers } : { reply });
    } catch (err) {
      this.waiting.delete(q.id);
      q.entry.reject(this.p.unsent(q.entry, err));
    }
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
    this.closing = true;
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    this.queued = [];
    for (const entry of this.waiting.values()) entry.reject(this.p.closed(entry));
    this.waiting.clear();
  }
}
