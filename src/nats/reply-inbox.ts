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
   * While the last flush is unanswered, hold new requests and send them together, rather than at
   * once: `"answers"` until its answers are in (at most {@link HOLD_MS}), `"turn"` until the end of
   * the event loop's turn at the latest (`setImmediate`; sooner when the answers are in first).
   * Worth it for requests that come from many separate callbacks (HTTP requests, each on its own
   * socket): `"answers"` merges the most and delays each by up to a round trip, `"turn"` merges the
   * callbacks of one turn and delays by at most that turn. Callers that already batch per turn (the
   * intake's record reads) should send at once (`false`). @defaultValue false
   */
  coalesce?: "answers" | "turn" | false;
}

/** Longest a coalesced request is held for the answers of the flush before it (ms). */
const HOLD_MS = 2;

/** A message to publish. */
export interface Outgoing {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
}

/** No messages to send before a request (shared: most requests have none). */
const NONE: readonly Outgoing[] = [];

/** A request to send (at once, or when the hold ends), with the messages that go before it. */
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
 * `coalesce: "answers"`, at most one flush is unanswered at a time (Nagle's rule): a request made
 * while the last flush waits for its answers is held, and what was held goes out together, in one
 * socket write, as soon as those answers are in (or {@link HOLD_MS} passed); with `"turn"` it is
 * held at most to the end of the event loop's turn. nats.js writes to the socket once per
 * microtask checkpoint, and a server answering many HTTP requests (each its own I/O callback, each
 * followed by a checkpoint) would otherwise make one socket write, and one read on the server, per
 * request. A request made when nothing is unanswered goes at once, so one-at-a-time callers pay no
 * wait. Used by the acknowledged publishers (work items: `"answers"`; task records: `"turn"`) and
 * the direct reader (at once), on the hot paths of enqueue, records and start checks.
 */
export class ReplyInbox<E extends AwaitedReply> {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, E>();
  private readonly sweeper: NodeJS.Timeout;
  private next = 0;
  /** Requests held until the last flush is answered, or the hold ends ({@link HOLD_MS}, or the turn). */
  private queued: Queued<E>[] = [];
  /** Ids of the last flush not yet answered (coalescing only). */
  private readonly unanswered = new Set<number>();
  private holdTimer?: NodeJS.Timeout;
  private holdImmediate?: NodeJS.Immediate;
  private closing = false;

  constructor(private readonly p: ReplyInboxParams<E>) {
    this.prefix = `${createInbox()}.`;
    this.sub = p.nc.subscribe(`${this.prefix}*`, { callback: (_err, m) => this.answer(m) });
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, p.timeoutMs));
    this.sweeper.unref();
  }

  /**
   * Sends `request` after the messages of `before` (in order, answered by nobody: e.g. the members
   * of an atomic batch whose commit is the request) — at once, or (with `coalesce`, while the last
   * flush is unanswered) with the others held, once that flush is answered or the hold ends.
   * Its answers go to `onAnswer` with `entry`; a connection that refuses the messages rejects it.
   * Requests go out in the order they were made.
   */
  send(entry: E, request: Outgoing, before: readonly Outgoing[] = NONE): void {
    if (this.closing) {
      entry.reject(this.p.closed(entry));
      return;
    }
    const q = { id: ++this.next, entry, request, before };
    this.waiting.set(q.id, entry);
    if (!this.p.coalesce) {
      this.publish(q);
      return;
    }
    if (this.unanswered.size === 0) {
      this.unanswered.add(q.id);
      this.publish(q);
      return;
    }
    if (this.queued.push(q) > 1) return;
    if (this.p.coalesce === "turn") this.holdImmediate = setImmediate(() => this.sendQueued());
    else this.holdTimer = setTimeout(() => this.sendQueued(), HOLD_MS);
  }

  /** Forgets a request: answered, or never sent. */
  done(id: number): void {
    this.waiting.delete(id);
    if (this.unanswered.delete(id) && this.unanswered.size === 0 && this.queued.length > 0) this.sendQueued();
  }

  private sendQueued(): void {
    clearTimeout(this.holdTimer);
    clearImmediate(this.holdImmediate);
    const queued = this.queued;
    this.queued = [];
    this.unanswered.clear();
    for (const q of queued) {
      if (!this.waiting.has(q.id)) continue; // it failed meanwhile
      this.unanswered.add(q.id);
      this.publish(q);
    }
  }

  private publish(q: Queued<E>): void {
    try {
      for (const m of q.before) this.p.nc.publish(m.subject, m.data, m.headers ? { headers: m.headers } : undefined);
      const { subject, data, headers } = q.request;
      const reply = this.prefix + q.id;
      this.p.nc.publish(subject, data, headers ? { reply, headers } : { reply });
    } catch (err) {
      this.waiting.delete(q.id);
      this.unanswered.delete(q.id);
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
      this.done(id);
      entry.reject(this.p.timedOut(entry));
    }
  }

  /** Stops listening; what is still waiting fails. */
  close(): void {
    this.closing = true;
    clearInterval(this.sweeper);
    clearTimeout(this.holdTimer);
    clearImmediate(this.holdImmediate);
    this.sub.unsubscribe();
    this.queued = [];
    for (const entry of this.waiting.values()) entry.reject(this.p.closed(entry));
    this.waiting.clear();
  }
}
