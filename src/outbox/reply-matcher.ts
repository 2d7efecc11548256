import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { type ConsumerMessages, DeliverPolicy, type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { type MsgHdrs, type NatsConnection, headers as natsHeaders, type Subscription } from "@nats-io/nats-core";
import { JetqError, ValidationError } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { clampDelay, type Timer, timeout } from "../timers.js";
import type { ReplyEvent } from "./outbox-flusher.js";
import type { OutboxPublisher } from "./outbox-publisher.js";

/** Header naming the subject a responder publishes its reply to. */
export const REPLY_TO_HEADER = "Jetq-Reply-To";
/** Header carrying the request id (also the request's `Nats-Msg-Id`). */
export const REQUEST_ID_HEADER = "Jetq-Request-Id";

/** How a request travels. */
export type RequestMode =
  /** Stored in a JetStream stream; a responder consuming it replies to the `Jetq-Reply-To` subject. */
  | "jetstream"
  /** A core NATS request to a service (e.g. jetq's schedule API); its direct reply is the answer. */
  | "request";

/** Parameters of {@link ReplyMatcher}. */
export interface ReplyMatcherParams {
  /** The connection replies arrive on (and requests go out on without `publisher`). */
  connection: NatsConnection;
  /**
   * This producer's own reply subject prefix: replies come to `<replyPrefix>.<request id>`.
   * @defaultValue `"_JETQ_REPLY.<random>"`
   */
  replyPrefix?: string;
  /**
   * A stream that captures `<replyPrefix>.>`. Replies are then read from it with an ordered
   * consumer (from the matcher's start on), so a reply published while this producer was
   * disconnected is delivered after the reconnect. Without it, replies come through a core
   * subscription, which nats.js re-establishes on reconnect but which misses replies sent meanwhile.
   * @defaultValue none (core subscription)
   */
  replyStream?: string;
  /**
   * Send requests durably through this outbox publisher. @defaultValue none: requests are sent at
   * once on `connection` (and fail while it is down)
   */
  publisher?: OutboxPublisher;
  /** How long a request waits for its reply, from the call. @defaultValue 30_000 ms */
  timeoutMs?: number;
  /** Where unmatched replies and problems are logged. @defaultValue pino on stderr */
  log?: Logger;
}

/** Options of {@link ReplyMatcher.request}. */
export interface RequestOptions {
  /** How the request travels. @defaultValue `"jetstream"` */
  mode?: RequestMode;
  /** Request id (and `Nats-Msg-Id`): giving the same id again de-duplicates. @defaultValue random */
  requestId?: string;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Overrides the matcher's `timeoutMs`. */
  timeoutMs?: number;
}

/** A reply matched to its request. */
export interface Reply {
  /** Id of the request it answers. */
  requestId: string;
  /** Subject it arrived on. */
  subject: string;
  /** Payload. */
  data: Uint8Array;
  /** Headers, if any. */
  headers?: MsgHdrs;
}

/** Events of a {@link ReplyMatcher}. */
export interface ReplyMatcherEvents {
  /** A reply for no pending request (a late reply, or one for an earlier run of this producer). */
  unmatched: [Reply];
  /** The reply subscription or consumer failed. */
  error: [Error];
}

/** A request that got no reply in time. Code `reply_timeout`. */
export class ReplyTimeoutError extends JetqError {
  constructor(
    /** The request's id. */
    readonly requestId: string,
    timeoutMs: number,
  ) {
    super("reply_timeout", `no reply to request ${requestId} within ${timeoutMs} ms`);
  }
}

interface Pending {
  resolve: (r: Reply) => void;
  reject: (err: Error) => void;
  timer: Timer;
}

/** The reply subject a request carries, if any (for responders). */
export function replySubjectOf(h: MsgHdrs | undefined): string | undefined {
  const v = h?.get(REPLY_TO_HEADER);
  return v ? v : undefined;
}

/**
 * Answers a request received from a stream: publishes `data` to its `Jetq-Reply-To` subject, with
 * the request id as header (and, with `jetstream`, as `Nats-Msg-Id`, so a responder that answers
 * twice stores one reply). Returns false when the request asked for no reply.
 * @param opts.jetstream publish with a stream acknowledgement (the reply subject is in a stream).
 * @defaultValue false
 */
export async function respond(
  nc: NatsConnection,
  request: { headers?: MsgHdrs },
  data: Uint8Array,
  opts: { jetstream?: boolean; js?: JetStreamClient } = {},
): Promise<boolean> {
  const to = replySubjectOf(request.headers);
  if (!to) return false;
  const id = request.headers?.get(REQUEST_ID_HEADER) ?? "";
  const h = natsHeaders();
  if (id) h.set(REQUEST_ID_HEADER, id);
  if (opts.jetstream || opts.js) {
    await (opts.js ?? jetstream(nc)).publish(to, data, { headers: h, ...(id ? { msgID: `${id}:reply` } : {}) });
  } else nc.publish(to, data, { headers: h });
  return true;
}

/**
 * JetStream publish/reply for a producer: each request is published (through an outbox when one is
 * given) with a `Jetq-Reply-To` header naming this producer's own reply subject, and replies on
 * that subject are matched to pending requests by id. Survives reconnects: the reply subscription
 * (or, with `replyStream`, the ordered consumer) resumes, and requests sent through an outbox wait
 * in it while NATS is down.
 *
 * ```ts
 * const rm = new ReplyMatcher({ connection: nc, publisher: pub, replyPrefix: "replies.device42" });
 * await rm.start();
 * const reply = await rm.request("orders.check", payload);
 * ```
 */
export class ReplyMatcher extends EventEmitter<ReplyMatcherEvents> {
  /** The reply subject prefix in use. */
  readonly replyPrefix: string;
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly pending = new Map<string, Pending>();
  private sub?: Subscription;
  private messages?: ConsumerMessages;
  private running = false;
  private readonly onOutboxReply = (e: ReplyEvent) =>
    this.deliver({
      requestId: e.entry.msgId,
      subject: e.reply.subject,
      data: e.reply.data,
      ...(e.reply.headers ? { headers: e.reply.headers } : {}),
    });

  constructor(private readonly params: ReplyMatcherParams) {
    super();
    this.nc = params.connection;
    this.js = jetstream(params.connection);
    this.replyPrefix = params.replyPrefix ?? `_JETQ_REPLY.${randomBytes(9).toString("base64url")}`;
    if (/[\s*>]/.test(this.replyPrefix) || this.replyPrefix.endsWith("."))
      throw new ValidationError(
        "invalid_subject",
        `reply prefix ${JSON.stringify(this.replyPrefix)} is not a plain subject`,
      );
    this.timeoutMs = params.timeoutMs ?? 30_000;
    this.log = params.log ?? createLogger();
  }

  /** Subscribes to the reply subject (or starts the ordered consumer on `replyStream`). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.params.publisher?.on("reply", this.onOutboxReply);
    const filter = `${this.replyPrefix}.*`;
    if (this.params.replyStream) {
      const consumer = await this.js.consumers.get(this.params.replyStream, {
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.New,
      });
      const messages = await consumer.consume();
      this.messages = messages;
      void (async () => {
        try {
          for await (const m of messages) this.onReply(m.subject, m.data, m.headers);
        } catch (err) {
          if (this.running) this.report(err as Error);
        }
      })();
    } else {
      this.sub = this.nc.subscribe(filter, {
        callback: (err, m) => {
          if (err) this.report(err);
          else this.onReply(m.subject, m.data, m.headers);
        },
      });
    }
  }

  private onReply(subject: string, data: Uint8Array, headers: MsgHdrs | undefined): void {
    const requestId = headers?.get(REQUEST_ID_HEADER) || subject.slice(this.replyPrefix.length + 1);
    this.deliver({ requestId, subject, data, ...(headers ? { headers } : {}) });
  }

  private deliver(reply: Reply): void {
    const p = this.pending.get(reply.requestId);
    if (!p) {
      if (this.listenerCount("unmatched") > 0) this.emit("unmatched", reply);
      else this.log.debug("reply for no pending request", { requestId: reply.requestId, subject: reply.subject });
      return;
    }
    this.pending.delete(reply.requestId);
    p.timer.clear();
    p.resolve(reply);
  }

  /** Requests waiting for their reply. */
  get waiting(): number {
    return this.pending.size;
  }

  /**
   * Sends a request and resolves with its reply. With a `publisher`, the request is durable in
   * the outbox before it is sent, so it survives NATS being down (within the timeout).
   * @throws ReplyTimeoutError (`reply_timeout`); the publisher's errors (e.g. `outbox_full`)
   */
  async request(subject: string, data: Uint8Array, opts: RequestOptions = {}): Promise<Reply> {
    if (!this.running) throw new JetqError("not_started", "call start() before request()");
    const requestId = opts.requestId ?? randomBytes(12).toString("base64url");
    const mode = opts.mode ?? "jetstream";
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const hdr: Record<string, string> = { ...opts.headers, [REQUEST_ID_HEADER]: requestId };
    if (mode === "jetstream") hdr[REPLY_TO_HEADER] = `${this.replyPrefix}.${requestId}`;
    if (this.pending.has(requestId))
      throw new ValidationError("duplicate_request", `request ${requestId} is already waiting for a reply`);
    const reply = new Promise<Reply>((resolve, reject) => {
      const timer = timeout(() => {
        this.pending.delete(requestId);
        reject(new ReplyTimeoutError(requestId, timeoutMs));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
    });
    const fail = (err: Error) => {
      const p = this.pending.get(requestId);
      if (p) {
        this.pending.delete(requestId);
        p.timer.clear();
      }
      throw err;
    };
    const pub = this.params.publisher;
    try {
      if (pub && mode === "request") await pub.request(subject, data, { msgId: requestId, headers: hdr });
      else if (pub) await pub.publish(subject, data, { msgId: requestId, headers: hdr });
      else if (mode === "request") {
        const h = natsHeaders();
        for (const [k, v] of Object.entries(hdr)) h.set(k, v);
        void this.nc.request(subject, data, { timeout: clampDelay(timeoutMs), headers: h }).then(
          (m) =>
            this.deliver({ requestId, subject: m.subject, data: m.data, ...(m.headers ? { headers: m.headers } : {}) }),
          (err: Error) => {
            const p = this.pending.get(requestId);
            if (!p) return;
            this.pending.delete(requestId);
            p.timer.clear();
            p.reject(err);
          },
        );
      } else {
        const h = natsHeaders();
        for (const [k, v] of Object.entries(hdr)) h.set(k, v);
        await this.js.publish(subject, data, { msgID: requestId, headers: h });
      }
    } catch (err) {
      fail(err as Error);
    }
    return reply;
  }

  private report(err: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", err);
    else this.log.warn("reply matcher", { error: err.message });
  }

  /** Stops receiving replies; requests still waiting are rejected with a `matcher_stopped` JetqError. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.params.publisher?.off("reply", this.onOutboxReply);
    this.sub?.unsubscribe();
    this.messages?.stop();
    for (const [id, p] of this.pending) {
      p.timer.clear();
      p.reject(new JetqError("matcher_stopped", `the reply matcher stopped before request ${id} got its reply`));
    }
    this.pending.clear();
  }
}
