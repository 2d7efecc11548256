import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { headers as natsHeaders } from "@nats-io/nats-core";

/** A message as a {@link Bus} subscriber sees it. */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Headers, if the message had any (decoded when first read). */
  readonly headers: MsgHdrs | undefined;
  /** The reply subject, if the sender set one. */
  readonly reply: string | undefined;
  /**
   * The undecoded header block, to measure before decoding: nats.js decodes headers when
   * `headers` is first read, at a cost quadratic in their number. Undefined when the client keeps
   * it elsewhere (read `headers` then).
   */
  headerBlock(): Uint8Array | undefined;
}

/** A received message, its headers decoded only when read. */
class Received implements BusMessage {
  constructor(private readonly m: Msg) {}

  get subject(): string {
    return this.m.subject;
  }

  get data(): Uint8Array {
    return this.m.data;
  }

  get headers(): MsgHdrs | undefined {
    return this.m.headers;
  }

  get reply(): string | undefined {
    return this.m.reply || undefined;
  }

  headerBlock(): Uint8Array | undefined {
    const m = this.m as unknown as { _msg?: { hdr?: unknown }; _rdata?: unknown };
    const hdr = m._msg?.hdr;
    if (typeof hdr !== "number" || !(m._rdata instanceof Uint8Array)) return undefined;
    return m._rdata.subarray(0, Math.max(0, hdr));
  }
}

/** A subscription made through a {@link Bus}. */
export interface BusSubscription {
  unsubscribe(): void;
  /** Stops taking messages and resolves once those already received were handed over. */
  drain(): Promise<void>;
}

/** What happened to the connection (as far as subscribers that may have missed messages care). */
export type ConnectionEvent = "reconnect" | "slow_consumer" | "disconnect";

/**
 * Core NATS messaging on a storage's connection, for what is not stored: events, level signals,
 * heartbeats, request APIs. The one way modules outside storage publish or subscribe, so none of
 * them holds the connection itself.
 */
export class Bus {
  constructor(private readonly nc: NatsConnection) {}

  /** Publishes a core NATS message (not awaited; nothing is stored). */
  publish(subject: string, data?: Uint8Array | string, hdrs?: Record<string, string>): void {
    if (hdrs === undefined) {
      this.nc.publish(subject, data);
      return;
    }
    const h = natsHeaders();
    for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
    this.nc.publish(subject, data, { headers: h });
  }

  /**
   * Calls `onMessage` for every message on `subject` (wildcards allowed) until unsubscribed; with
   * `queue`, one member of the queue group gets each. `onError` hears of a failed subscription
   * (e.g. the client fell behind).
   */
  subscribe(
    subject: string,
    onMessage: (m: BusMessage) => void,
    opts: { queue?: string; onError?: (err: Error) => void } = {},
  ): BusSubscription {
    return this.nc.subscribe(subject, {
      ...(opts.queue ? { queue: opts.queue } : {}),
      callback: (err, m) => {
        if (err) {
          opts.onError?.(err);
          return;
        }
        onMessage(new Received(m));
      },
    });
  }

  /**
   * Answers requests on `subject` in queue group `group` with what `handle` returns (requests
   * without a reply subject are handled and not answered). The returned function stops, letting
   * requests in progress finish.
   */
  serve(subject: string, group: string, handle: (m: BusMessage) => Promise<Uint8Array | string>): () => Promise<void> {
    const sub = this.nc.subscribe(subject, {
      queue: group,
      callback: (err, m) => {
        if (err) return;
        void handle(new Received(m)).then(
          (answer) => {
            if (m.reply) m.respond(answer);
          },
          () => undefined,
        );
      },
    });
    return () => sub.drain().catch(() => undefined);
  }

  /** Answers a message that has a reply subject. */
  reply(to: BusMessage, data: Uint8Array | string): void {
    if (to.reply) this.nc.publish(to.reply, data);
  }

  /** Sends a request and resolves with the answer's body. @throws nats.js errors (no responders, timeout) */
  async request(subject: string, data: Uint8Array | string, timeoutMs: number): Promise<Uint8Array> {
    return (await this.nc.request(subject, data, { timeout: timeoutMs })).data;
  }

  /** Resolves once everything published so far has reached the server. */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  /** True once the connection is closed. */
  get closed(): boolean {
    return this.nc.isClosed();
  }

  /**
   * Calls `onEvent` on reconnects, when this client fell behind (slow consumer) and on disconnects:
   * when subscribers may have missed messages. Returns a function that stops it.
   */
  onConnectionEvent(onEvent: (e: ConnectionEvent) => void): () => void {
    const status = this.nc.status() as AsyncIterable<{ type: string }> & { stop?(): void };
    let stopped = false;
    void (async () => {
      for await (const s of status) {
        if (stopped) return;
        if (s.type === "reconnect") onEvent("reconnect");
        else if (s.type === "slowConsumer") onEvent("slow_consumer");
        else if (s.type === "disconnect") onEvent("disconnect");
      }
    })().catch(() => undefined);
    return () => {
      stopped = true;
      status.stop?.();
    };
  }
}
