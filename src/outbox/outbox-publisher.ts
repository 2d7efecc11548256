import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import { ConfigError, ValidationError } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { connectNats, type NatsOptions } from "../nats/connect.js";
import { clampDelay } from "../timers.js";
import { Outbox, type OutboxDropInfo, type OutboxMessage, type OutboxOptions } from "./outbox.js";
import { OutboxError } from "./outbox-errors.js";
import { type FlushedEvent, OutboxFlusher, type OutboxFlusherParams, type ReplyEvent } from "./outbox-flusher.js";

/** Parameters of {@link OutboxPublisher}. The limit fields apply when `outbox` is a path. */
export interface OutboxPublisherParams
  extends OutboxOptions,
    Pick<OutboxFlusherParams, "maxInFlight" | "ackTimeoutMs" | "minRetryMs" | "maxRetryMs" | "duplicateWindowMs"> {
  /** An open {@link Outbox} (the caller closes it) or the path of its file (opened now, closed by `stop()`). */
  outbox: Outbox | string;
  /** The NATS connection to publish on (never closed by the publisher). */
  connection?: NatsConnection;
  /**
   * Without `connection`: how to connect. The publisher connects in the background, retrying until
   * a server answers, and closes that connection on `stop()`. @defaultValue `connectNats` defaults
   */
  nats?: NatsOptions;
  /** Most messages committed in one SQLite transaction. @defaultValue 8192 */
  maxBatch?: number;
  /** Interval of `backlog` events while entries wait. @defaultValue 1000 ms */
  backlogIntervalMs?: number;
  /** Where problems are logged when nobody listens to `error`. @defaultValue pino on stderr */
  log?: Logger;
}

/** Options of {@link OutboxPublisher.publish}. */
export interface OutboxPublishOptions {
  /** De-duplication id sent as `Nats-Msg-Id`. @defaultValue `<outbox id>:<seq>`, stable across restarts */
  msgId?: string;
  /** NATS headers to send with the message. */
  headers?: Record<string, string>;
}

/** Reported by the `backlog` event. */
export interface BacklogEvent {
  /** Entries waiting in the outbox. */
  pending: number;
  /** Their bytes. */
  bytes: number;
  /** Age of the oldest in ms (0 when empty). */
  oldestAgeMs: number;
}

/** Events of an {@link OutboxPublisher}. */
export interface OutboxPublisherEvents {
  /** Entries were acknowledged by NATS and deleted from the outbox. */
  flushed: [FlushedEvent];
  /** Every `backlogIntervalMs` while entries wait, and once when the outbox has emptied. */
  backlog: [BacklogEvent];
  /** A publish failed (it is retried) or the outbox file failed. Without a listener, it is logged. */
  error: [Error];
  /** A message sent with {@link OutboxPublisher.request} got its reply. */
  reply: [ReplyEvent];
  /** The NATS connection went down or came back. */
  connection: ["connected" | "disconnected"];
  /** The outbox became empty. */
  drained: [];
  /** Entries were deleted unsent by the `dropOldest` policy. */
  dropped: [OutboxDropInfo];
}

/** The numbers {@link OutboxPublisher.stats} reports. */
export interface OutboxStats {
  /** Entries in the outbox, not yet acknowledged. */
  pending: number;
  /** Their bytes. */
  bytes: number;
  /** Age of the oldest entry in ms (0 when empty). */
  oldestAgeMs: number;
  /** `publish()` calls waiting for their commit. */
  writesWaiting: number;
  /** Entries flushed (acknowledged and deleted) since start. */
  flushedTotal: number;
  /** Entries flushed per second over the last 5 s. */
  flushRate: number;
  /** Publishes awaiting their acknowledgement. */
  inFlight: number;
  /** Re-sends the stream recognised as duplicates. */
  duplicatesTotal: number;
  /** Failed publishes since start (each is retried). */
  failuresTotal: number;
  /** Re-sends later than `duplicateWindowMs` after the first send (each may be stored twice). */
  lateResendsTotal: number;
  /** Entries dropped by the `dropOldest` policy since open. */
  droppedTotal: number;
  /** True while connected to NATS. */
  connected: boolean;
  /** True while waiting to retry after a failure. */
  retrying: boolean;
}

interface Waiting {
  msg: OutboxMessage;
  size: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A durable-first publisher: every message is committed to a local SQLite {@link Outbox} before
 * `publish()` resolves, then an {@link OutboxFlusher} publishes it to JetStream in order, with a
 * `Nats-Msg-Id`, deleting it only after the stream's acknowledgement.
 *
 * Concurrent `publish()` calls share one commit (group commit), so a fsync covers many messages.
 * While NATS is down, `publish()` keeps accepting (up to the outbox's limits) and the backlog is
 * drained in order when it is back.
 *
 * ```ts
 * const pub = new OutboxPublisher({ outbox: "./outbox.db", connection: nc });
 * pub.start();
 * await pub.publish("orders.new", payload); // durable on local disk now
 * await pub.stop();
 * ```
 */
export class OutboxPublisher extends EventEmitter<OutboxPublisherEvents> {
  /** The outbox written to. */
  readonly outbox: Outbox;
  private readonly flusher: OutboxFlusher;
  private readonly ownsOutbox: boolean;
  private readonly maxBatch: number;
  private readonly log: Logger;
  private batch: Waiting[] = [];
  private batchBytes = 0;
  private commitScheduled = false;
  private started = false;
  private stopped = false;
  private backlogTimer?: NodeJS.Timeout;
  private reportedPending = 0;
  private readonly connectAbort = new AbortController();
  private readonly connection: Promise<NatsConnection>;
  private ownedConnection?: NatsConnection;
  private readonly forwardDropped = (d: OutboxDropInfo) => this.emit("dropped", d);

  /**
   * Opens the outbox (when given a path). Nothing is sent before {@link start}.
   * @throws OutboxError when the outbox file cannot be used (see {@link Outbox.open})
   */
  constructor(private readonly params: OutboxPublisherParams) {
    super();
    this.log = params.log ?? createLogger();
    this.maxBatch = Math.max(1, params.maxBatch ?? 8192);
    this.ownsOutbox = typeof params.outbox === "string";
    this.outbox = typeof params.outbox === "string" ? Outbox.open(params.outbox, params) : params.outbox;
    this.outbox.on("dropped", this.forwardDropped);
    this.connection = params.connection ? Promise.resolve(params.connection) : this.connectLoop(params.nats ?? {});
    this.connection.catch(() => {}); // reported by the flusher
    this.flusher = new OutboxFlusher({
      outbox: this.outbox,
      connection: this.connection,
      ...(params.maxInFlight === undefined ? {} : { maxInFlight: params.maxInFlight }),
      ...(params.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: params.ackTimeoutMs }),
      ...(params.minRetryMs === undefined ? {} : { minRetryMs: params.minRetryMs }),
      ...(params.maxRetryMs === undefined ? {} : { maxRetryMs: params.maxRetryMs }),
      ...(params.duplicateWindowMs === undefined ? {} : { duplicateWindowMs: params.duplicateWindowMs }),
      log: this.log,
    });
    this.flusher.on("flushed", (e) => this.emit("flushed", e));
    this.flusher.on("reply", (e) => this.emit("reply", e));
    this.flusher.on("connection", (s) => this.emit("connection", s));
    this.flusher.on("error", (err) => this.report(err));
    this.flusher.on("drained", () => {
      if (this.batch.length === 0) this.emit("drained");
    });
  }

  private async connectLoop(opts: NatsOptions): Promise<NatsConnection> {
    let wait = 250;
    const signal = this.connectAbort.signal;
    for (;;) {
      signal.throwIfAborted();
      try {
        const nc = await connectNats(opts);
        if (signal.aborted) {
          await nc.close();
          signal.throwIfAborted();
        }
        this.ownedConnection = nc;
        return nc;
      } catch (err) {
        if (err instanceof ConfigError || signal.aborted) throw err;
        this.log.debug("outbox: NATS not reachable yet, retrying", { error: (err as Error).message });
      }
      await sleep(wait, undefined, { signal });
      wait = Math.min(wait * 2, 5000);
    }
  }

  /** Starts flushing the outbox (what is in it from before too) and the `backlog` events. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.reportBacklog(); // the backlog left from before, reported before flushing starts
    this.flusher.start();
    const every = this.params.backlogIntervalMs ?? 1000;
    this.backlogTimer = setInterval(() => this.reportBacklog(), clampDelay(every));
    this.backlogTimer.unref();
  }

  private reportBacklog(): void {
    if (this.outbox.isClosed) return;
    const pending = this.outbox.size;
    if (pending === 0 && this.reportedPending === 0) return;
    this.reportedPending = pending;
    this.emit("backlog", { pending, bytes: this.outbox.bytes, oldestAgeMs: this.outbox.oldestAgeMs() });
  }

  /**
   * Writes a message to the outbox for publishing to JetStream. Resolves once it is committed to
   * the SQLite file (fsync'd with the default `synchronous: "full"`), whether or not NATS is up.
   * @throws OutboxFullError (`outbox_full`) at a limit under the `"reject"` policy;
   * ValidationError for an empty subject or a payload over the server's `max_payload`;
   * OutboxError when the file fails or the publisher is stopped (`outbox_closed`)
   */
  publish(subject: string, data: Uint8Array, opts: OutboxPublishOptions = {}): Promise<void> {
    return this.enqueue({ subject, data, ...opts });
  }

  /**
   * Writes a message to be delivered as a core NATS request (for request/reply services such as
   * jetq's schedule API); its reply arrives as a `reply` event. Resolves with the message's
   * de-duplication id (also sent as the `Nats-Msg-Id` header) once it is durable.
   * The given `msgId` is required: it is how the reply is matched (see {@link ReplyMatcher}).
   */
  async request(subject: string, data: Uint8Array, opts: OutboxPublishOptions & { msgId: string }): Promise<string> {
    await this.enqueue({ subject, data, ...opts, delivery: "request" });
    return opts.msgId;
  }

  private enqueue(msg: OutboxMessage): Promise<void> {
    if (this.stopped || this.outbox.isClosed)
      return Promise.reject(new OutboxError("outbox_closed", this.outbox.path, "the outbox publisher is stopped"));
    if (typeof msg.subject !== "string" || msg.subject.length === 0)
      return Promise.reject(new ValidationError("invalid_subject", "publish needs a subject"));
    if (!(msg.data instanceof Uint8Array))
      return Promise.reject(new ValidationError("invalid_payload", "publish data must be a Uint8Array"));
    const max = this.ownedConnection?.info?.max_payload ?? this.params.connection?.info?.max_payload;
    if (max && msg.data.byteLength > max)
      return Promise.reject(
        new ValidationError(
          "payload_too_large",
          `a ${msg.data.byteLength}-byte payload exceeds the server's max_payload of ${max} bytes`,
        ),
      );
    const size = Outbox.sizeOf(msg);
    let full: Error | undefined;
    try {
      full = this.outbox.roomFor(1, size, this.batch.length, this.batchBytes);
    } catch (err) {
      full = err as Error;
    }
    if (full) return Promise.reject(full);
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ msg, size, resolve, reject });
      this.batchBytes += size;
      if (this.batch.length >= this.maxBatch) this.commit();
      else if (!this.commitScheduled) {
        this.commitScheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  /** Commits the waiting writes in one transaction per `maxBatch`, then wakes the flusher. */
  private commit(): void {
    this.commitScheduled = false;
    while (this.batch.length > 0) {
      const batch = this.batch.splice(0, this.maxBatch);
      for (const w of batch) this.batchBytes -= w.size;
      try {
        this.outbox.saveMany(batch.map((w) => w.msg));
      } catch (err) {
        for (const w of batch) w.reject(err as Error);
        continue;
      }
      for (const w of batch) w.resolve();
    }
    this.batchBytes = 0;
    if (this.started) this.flusher.notify();
  }

  /** Resolves once every message written so far has been flushed (the outbox is empty). */
  drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.outbox.isClosed) {
          cleanup();
          reject(new OutboxError("outbox_closed", this.outbox.path, "the outbox publisher stopped before draining"));
        } else if (this.outbox.size === 0 && this.batch.length === 0) {
          cleanup();
          resolve();
        }
      };
      const cleanup = () => {
        this.off("drained", check);
        this.off("flushed", check);
        clearInterval(poll);
      };
      this.on("drained", check);
      this.on("flushed", check);
      const poll = setInterval(check, 250); // catches a stop() and entries dropped by policy
      check();
    });
  }

  /** Current numbers: backlog, flush rate, failures, connection state. */
  stats(): OutboxStats {
    const f = this.flusher.stats();
    const o = this.outbox.isClosed ? { pending: 0, bytes: 0, oldestAgeMs: 0, droppedTotal: 0 } : this.outbox.state();
    return {
      pending: o.pending,
      bytes: o.bytes,
      oldestAgeMs: o.oldestAgeMs,
      writesWaiting: this.batch.length,
      flushedTotal: f.flushedTotal,
      flushRate: f.flushRate,
      inFlight: f.inFlight,
      duplicatesTotal: f.duplicatesTotal,
      failuresTotal: f.failuresTotal,
      lateResendsTotal: f.lateResendsTotal,
      droppedTotal: o.droppedTotal,
      connected: f.connected,
      retrying: f.retrying,
    };
  }

  private report(err: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", err);
    else this.log.warn("outbox", { error: err.message, code: (err as { code?: unknown }).code });
  }

  /**
   * Commits writes still waiting, stops the flusher (waiting up to `ackTimeoutMs` for publishes in
   * flight), closes the connection it opened and the outbox it opened. What was not acknowledged
   * stays in the file for the next start. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.batch.length > 0 && !this.outbox.isClosed) this.commit();
    clearInterval(this.backlogTimer);
    this.connectAbort.abort();
    await this.flusher.stop();
    this.outbox.off("dropped", this.forwardDropped);
    if (this.ownedConnection && !this.ownedConnection.isClosed()) await this.ownedConnection.close();
    if (this.ownsOutbox) this.outbox.close();
  }
}
