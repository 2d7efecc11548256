import { EventEmitter } from "node:events";
import { type JetStreamClient, jetstream, type PubAck } from "@nats-io/jetstream";
import { type Msg, type MsgHdrs, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { StorageError } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { MAX_TIMER_MS, type Timer, timeout } from "../timers.js";
import type { Outbox, OutboxEntry } from "./outbox.js";
import { RateMeter } from "./rate-meter.js";

/** Header carrying the de-duplication id (JetStream's own), also set on `"request"` deliveries. */
export const OUTBOX_MSG_ID_HEADER = "Nats-Msg-Id";

/** Parameters of {@link OutboxFlusher}. */
export interface OutboxFlusherParams {
  /** The outbox to drain. */
  outbox: Outbox;
  /**
   * The NATS connection, or a promise of one (e.g. a connect that waits for a server to come up).
   * It should reconnect forever (as `connectNats` does); the flusher never closes it.
   */
  connection: NatsConnection | Promise<NatsConnection>;
  /** Publishes awaiting their acknowledgement at once. @defaultValue 1024 */
  maxInFlight?: number;
  /** How long to wait for a stream's acknowledgement (or a request's reply). @defaultValue 5000 ms */
  ackTimeoutMs?: number;
  /** First back-off after a failed publish; doubles per failure in a row. @defaultValue 250 ms */
  minRetryMs?: number;
  /** Longest back-off between retries. @defaultValue 5000 ms */
  maxRetryMs?: number;
  /**
   * The duplicate window of the streams published to (JetStream's `duplicate_window`). A re-send
   * later than this after the first send may be stored twice; the flusher counts and reports such
   * late re-sends (see docs/outbox.md). @defaultValue 120_000 ms (JetStream's and jetq's default)
   */
  duplicateWindowMs?: number;
  /** Where problems are logged when nobody listens to `error`. @defaultValue pino on stderr */
  log?: Logger;
}

/** Reported by the `flushed` event. */
export interface FlushedEvent {
  /** Entries acknowledged and deleted in this batch. */
  count: number;
  /** Entries flushed since start. */
  total: number;
  /** Entries still in the outbox. */
  pending: number;
}

/** Reported by the `reply` event for entries delivered as core NATS requests. */
export interface ReplyEvent {
  /** The entry that was delivered. */
  entry: OutboxEntry;
  /** The reply received. */
  reply: Msg;
}

/** Events of an {@link OutboxFlusher}. */
export interface OutboxFlusherEvents {
  /** Entries were acknowledged by NATS and deleted from the outbox. */
  flushed: [FlushedEvent];
  /** A `"request"` entry got its reply. */
  reply: [ReplyEvent];
  /** A publish failed (it will be retried) or the outbox file failed. */
  error: [Error];
  /** The connection went down or came back. */
  connection: ["connected" | "disconnected"];
  /** The outbox became empty. */
  drained: [];
}

/** Numbers a flusher reports. */
export interface FlusherStats {
  /** Entries flushed (acknowledged and deleted) since start. */
  flushedTotal: number;
  /** Acknowledgements that said the stream already had the message (a re-send de-duplicated). */
  duplicatesTotal: number;
  /** Publishes awaiting their acknowledgement. */
  inFlight: number;
  /** Entries flushed per second over the last 5 s. */
  flushRate: number;
  /** Failed publishes since start. */
  failuresTotal: number;
  /** Re-sends made later than `duplicateWindowMs` after the first send: each may be stored twice. */
  lateResendsTotal: number;
  /** True while the connection is up. */
  connected: boolean;
  /** True while waiting to retry after a failure. */
  retrying: boolean;
}

interface InFlight {
  entry: OutboxEntry;
  done: Promise<void>;
}

/** The internal connected flag of nats.js's protocol handler, when it is there (see docs/outbox.md). */
function protocolConnected(nc: NatsConnection): boolean | undefined {
  const p = (nc as unknown as { protocol?: { connected?: unknown } }).protocol;
  return typeof p?.connected === "boolean" ? p.connected : undefined;
}

function toHeaders(h: Record<string, string> | undefined): MsgHdrs | undefined {
  if (!h) return undefined;
  const out = natsHeaders();
  for (const [k, v] of Object.entries(h)) out.set(k, v);
  return out;
}

/**
 * Drains an {@link Outbox} to NATS in order: many publishes in flight on one connection (so the
 * stream stores them in outbox order), each entry deleted only after its acknowledgement.
 *
 * After a failure or a reconnect it stops, lets what is in flight settle, and sends again from
 * the oldest entry not acknowledged: first that entry alone, then the full window. Re-sends carry
 * the same `Nats-Msg-Id`, so the stream stores each message once within its duplicate window.
 * While NATS is down it waits; it never blocks writes to the outbox.
 */
export class OutboxFlusher extends EventEmitter<OutboxFlusherEvents> {
  private readonly outbox: Outbox;
  private readonly maxInFlight: number;
  private readonly ackTimeoutMs: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly log: Logger;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private readonly inflight = new Map<number, InFlight>();
  private readonly acked = new Set<number>();
  private readonly meter = new RateMeter();
  private cursor = 0;
  private started = false;
  private stopped = false;
  private statusConnected = false;
  private suspended = false;
  private probe = true;
  private failuresInRow = 0;
  private restartTimer?: Timer;
  private deleteScheduled = false;
  private statusIter?: AsyncIterable<unknown>;
  private counts = { flushed: 0, duplicates: 0, failures: 0, lateResends: 0 };
  private readonly duplicateWindowMs: number;
  /** First send time of entries sent and not yet acknowledged. */
  private readonly firstSent = new Map<number, number>();

  constructor(private readonly params: OutboxFlusherParams) {
    super();
    this.outbox = params.outbox;
    this.maxInFlight = Math.max(1, params.maxInFlight ?? 1024);
    // Also the timeout of nats.js's own timers (publish acks, requests), which cannot wait longer.
    this.ackTimeoutMs = Math.min(params.ackTimeoutMs ?? 5000, MAX_TIMER_MS);
    this.minRetryMs = params.minRetryMs ?? 250;
    this.maxRetryMs = params.maxRetryMs ?? 5000;
    this.duplicateWindowMs = params.duplicateWindowMs ?? 120_000;
    this.log = params.log ?? createLogger();
  }

  /** Starts draining (once the connection is there). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void Promise.resolve(this.params.connection).then(
      (nc) => this.attach(nc),
      (err: unknown) => this.report(err as Error),
    );
  }

  private attach(nc: NatsConnection): void {
    if (this.stopped) return;
    this.nc = nc;
    this.js = jetstream(nc, { timeout: this.ackTimeoutMs });
    this.statusConnected = !nc.isClosed() && protocolConnected(nc) !== false;
    void this.watchStatus(nc);
    nc.closed().then(() => {
      if (this.stopped) return;
      this.statusConnected = false;
      this.report(new StorageError("connection_closed", "the NATS connection of the outbox flusher was closed"));
    });
    if (this.statusConnected) this.emit("connection", "connected");
    this.checkIdleTime();
    this.pump();
  }

  /** Warns when a backlog left by an earlier run is older than the duplicate window. */
  private checkIdleTime(): void {
    try {
      const last = this.outbox.lastDeletedAt();
      const idle = last === undefined ? 0 : Date.now() - last;
      if (this.outbox.size > 0 && idle > this.duplicateWindowMs) {
        const n = Math.min(this.outbox.size, this.maxInFlight);
        this.report(
          new StorageError(
            "outbox_dedupe_window_exceeded",
            `outbox ${this.outbox.path} was last flushed ${Math.round(idle / 1000)} s ago, longer than the duplicate window (${Math.round(this.duplicateWindowMs / 1000)} s): up to ${n} entries an earlier run sent without deleting may be stored twice`,
          ),
        );
      }
    } catch (err) {
      this.report(err as Error);
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    const status = nc.status();
    this.statusIter = status;
    const iter = status[Symbol.asyncIterator]();
    for (;;) {
      const r = await iter.next();
      if (r.done || this.stopped) return;
      if (r.value.type === "disconnect") this.onDisconnect();
      else if (r.value.type === "reconnect") this.onReconnect();
    }
  }

  private onDisconnect(): void {
    if (!this.statusConnected) return;
    this.statusConnected = false;
    // Everything sent on the dead connection either reached the server (its ack is lost) or never
    // will: nats.js drops unsent data before it reconnects. Abandon it and re-send from the oldest.
    this.inflight.clear();
    this.suspended = true;
    this.emit("connection", "disconnected");
  }

  private onReconnect(): void {
    this.statusConnected = true;
    this.emit("connection", "connected");
    if (this.suspended) this.scheduleRestart(0);
    else this.pump();
  }

  private isConnected(): boolean {
    const nc = this.nc;
    if (!nc || nc.isClosed() || !this.statusConnected) return false;
    return protocolConnected(nc) ?? true;
  }

  /** Tells the flusher that new entries were saved. */
  notify(): void {
    this.pump();
  }

  private pump(): void {
    if (this.stopped || this.suspended || !this.isConnected()) return;
    const window = this.probe ? 1 : this.maxInFlight;
    // Refill at half the window, so reads from SQLite come in batches.
    if (this.inflight.size > 0 && this.inflight.size > window / 2) return;
    const room = window - this.inflight.size;
    let entries: OutboxEntry[];
    try {
      entries = this.outbox.all({ afterSeq: this.cursor, limit: room });
    } catch (err) {
      this.report(err as Error);
      this.failuresInRow++;
      this.suspended = true;
      if (this.inflight.size === 0) this.scheduleRestart(this.backoff());
      return;
    }
    const now = Date.now();
    let late = 0;
    for (const e of entries) {
      const first = this.firstSent.get(e.seq);
      if (first === undefined) this.firstSent.set(e.seq, now);
      else if (now - first > this.duplicateWindowMs) late++;
      this.send(e);
    }
    if (late > 0) {
      this.counts.lateResends += late;
      this.report(
        new StorageError(
          "outbox_dedupe_window_exceeded",
          `re-sending ${late} outbox entries first sent more than the duplicate window (${Math.round(this.duplicateWindowMs / 1000)} s) ago: they may be stored twice`,
        ),
      );
    }
    if (this.firstSent.size > 4 * this.maxInFlight + 1024) this.firstSent.clear(); // only a diagnostic
  }

  private send(entry: OutboxEntry): void {
    const nc = this.nc!;
    const js = this.js!;
    this.cursor = entry.seq;
    let sent: Promise<PubAck | Msg>;
    if (entry.delivery === "request") {
      const h = toHeaders(entry.headers) ?? natsHeaders();
      h.set(OUTBOX_MSG_ID_HEADER, entry.msgId);
      sent = nc.request(entry.subject, entry.data, { timeout: this.ackTimeoutMs, headers: h });
    } else {
      const h = toHeaders(entry.headers);
      sent = js.publish(entry.subject, entry.data, {
        msgID: entry.msgId,
        timeout: this.ackTimeoutMs,
        ...(h ? { headers: h } : {}),
      });
    }
    const rec: InFlight = {
      entry,
      done: sent.then(
        (v) => this.onAck(rec, v),
        (err: unknown) => this.onFail(rec, err as Error),
      ),
    };
    this.inflight.set(entry.seq, rec);
  }

  private onAck(rec: InFlight, v: PubAck | Msg): void {
    const seq = rec.entry.seq;
    // An ack always means "stored", even for an entry abandoned at a disconnect.
    this.acked.add(seq);
    this.firstSent.delete(seq);
    this.scheduleDeletes();
    if (rec.entry.delivery === "request") this.emit("reply", { entry: rec.entry, reply: v as Msg });
    else if ((v as PubAck).duplicate) this.counts.duplicates++;
    if (this.inflight.get(seq) !== rec) return;
    this.inflight.delete(seq);
    if (this.suspended) {
      if (this.inflight.size === 0) this.scheduleRestart(this.backoff());
      return;
    }
    this.failuresInRow = 0;
    this.probe = false;
    this.pump();
  }

  private onFail(rec: InFlight, err: Error): void {
    const seq = rec.entry.seq;
    if (this.inflight.get(seq) !== rec) return; // abandoned at a disconnect
    this.inflight.delete(seq);
    this.counts.failures++;
    if (!this.suspended) {
      this.suspended = true;
      this.failuresInRow++;
      const e = rec.entry;
      this.report(
        new StorageError(
          "outbox_publish_failed",
          `publishing outbox entry ${e.seq} (${e.msgId}) to ${e.subject} failed, will retry: ${err.message}`,
          { cause: err },
        ),
      );
    }
    if (this.inflight.size === 0) this.scheduleRestart(this.backoff());
  }

  private backoff(): number {
    if (this.failuresInRow === 0) return 0;
    const base = Math.min(this.maxRetryMs, this.minRetryMs * 2 ** (this.failuresInRow - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private scheduleRestart(delayMs: number): void {
    if (this.restartTimer || this.stopped) return;
    this.restartTimer = timeout(() => {
      this.restartTimer = undefined;
      this.restart();
    }, delayMs);
  }

  /** Sends again from the oldest entry not acknowledged, one at a time until one succeeds. */
  private restart(): void {
    if (this.stopped || this.inflight.size > 0 || !this.isConnected()) return; // a reconnect calls again
    this.flushDeletes();
    this.cursor = 0;
    this.probe = true;
    this.suspended = false;
    this.pump();
  }

  private scheduleDeletes(): void {
    if (this.deleteScheduled) return;
    this.deleteScheduled = true;
    setImmediate(() => {
      this.deleteScheduled = false;
      this.flushDeletes();
    });
  }

  private flushDeletes(): void {
    if (this.acked.size === 0 || this.outbox.isClosed) return;
    let n: number;
    try {
      n = this.outbox.deleteMany(this.acked);
    } catch (err) {
      this.report(err as Error);
      return;
    }
    this.acked.clear();
    if (n === 0) return;
    this.counts.flushed += n;
    this.meter.add(n);
    const pending = this.outbox.size;
    this.emit("flushed", { count: n, total: this.counts.flushed, pending });
    if (pending === 0) this.emit("drained");
  }

  private report(err: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", err);
    else this.log.warn("outbox flusher", { error: err.message, code: (err as { code?: unknown }).code });
  }

  /** Current numbers. */
  stats(): FlusherStats {
    return {
      flushedTotal: this.counts.flushed,
      duplicatesTotal: this.counts.duplicates,
      inFlight: this.inflight.size,
      flushRate: this.meter.perSecond(),
      failuresTotal: this.counts.failures,
      lateResendsTotal: this.counts.lateResends,
      connected: this.isConnected(),
      retrying: this.suspended,
    };
  }

  /**
   * Stops sending, waits up to `ackTimeoutMs` for what is in flight, and deletes what was
   * acknowledged. Entries not acknowledged stay in the outbox for the next start.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.restartTimer?.clear();
    this.restartTimer = undefined;
    const stopIter = (this.statusIter as { stop?: () => void } | undefined)?.stop;
    if (stopIter) stopIter.call(this.statusIter);
    const pending = [...this.inflight.values()].map((r) => r.done);
    if (pending.length > 0) {
      let timer: Timer | undefined;
      await Promise.race([
        Promise.allSettled(pending),
        new Promise<void>((r) => {
          timer = timeout(r, this.ackTimeoutMs + 100);
        }),
      ]);
      timer?.clear();
    }
    this.inflight.clear();
    this.flushDeletes();
  }
}
