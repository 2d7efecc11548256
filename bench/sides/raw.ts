/**
 * The raw JetStream side: what jetq is built on, without jetq. One work-queue stream (file
 * storage, like jetq's queues) with one durable pull consumer, plain `js.publish` and
 * `consume()` with an ack per message.
 */
import { randomUUID } from "node:crypto";
import {
  AckPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { until } from "../clock.js";

/** A raw JetStream work queue for one run: stream `BENCH_<id>` on subjects `bench.<id>.>`. */
export class RawQueue {
  readonly subject: string;
  private readonly extraStreams: string[] = [];

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly stream: string,
  ) {
    this.subject = `bench.${stream}.work`;
  }

  /**
   * Connects to `url` and creates a fresh stream with a durable consumer `WORKERS` whose max ack
   * pending is `maxAckPending` (jetq's queue default is 100).
   */
  static async open(url: string, maxAckPending = 100): Promise<RawQueue> {
    const nc = await connect({ servers: url, name: "bench-raw" });
    const jsm = await jetstreamManager(nc);
    const id = `BENCH_${randomUUID().slice(0, 8)}`;
    const q = new RawQueue(nc, jetstream(nc), jsm, id);
    await jsm.streams.add({
      name: id,
      subjects: [`bench.${id}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: 1,
    });
    await jsm.consumers.add(id, {
      durable_name: "WORKERS",
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: maxAckPending,
      max_deliver: -1,
    });
    return q;
  }

  /** Publishes `n` messages one at a time, awaiting each acknowledgement. */
  async publishSequential(n: number, payload: (i: number) => Uint8Array): Promise<void> {
    for (let i = 0; i < n; i++) await this.js.publish(this.subject, payload(i));
  }

  /** Publishes `n` messages pipelined, at most `window` unacknowledged at a time. */
  async publishWindowed(n: number, window: number, payload: (i: number) => Uint8Array): Promise<void> {
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < n; i++) {
      const p: Promise<unknown> = this.js.publish(this.subject, payload(i)).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= window) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }

  /**
   * Consumes with `consume({ max_messages })`, calling `onMessage` and acknowledging each message
   * (once the promise `onMessage` returns, if any, resolves). Stop it with `close()` on the result.
   */
  async consume(maxMessages: number, onMessage: (m: JsMsg) => unknown): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(this.stream, "WORKERS");
    return consumer.consume({
      max_messages: maxMessages,
      callback: (m) => {
        const settled = onMessage(m);
        if (settled instanceof Promise) void settled.then(() => m.ack());
        else m.ack();
      },
    });
  }

  /**
   * Makes a second stream, `<stream>_REC` on `bench.<stream>_REC.<key>` (file storage, limits
   * retention, one message per subject: the shape of jetq's task records), and returns a function
   * that stores a message under a key, resolving on its acknowledgement. Deleted by `close()`.
   */
  async recordStore(): Promise<(key: string, body: Uint8Array) => Promise<unknown>> {
    const name = `${this.stream}_REC`;
    await this.jsm.streams.add({
      name,
      subjects: [`bench.${name}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: 1,
      max_msgs_per_subject: 1,
    });
    this.extraStreams.push(name);
    return (key, body) => this.js.publish(`bench.${name}.${key}`, body);
  }

  /** Messages left in the stream (not yet acknowledged). */
  async depth(): Promise<number> {
    return (await this.jsm.streams.info(this.stream)).state.messages;
  }

  /** Resolves once every message has been acknowledged (the work-queue stream is empty). */
  drained(timeoutMs: number): Promise<void> {
    return until(async () => (await this.depth()) === 0, timeoutMs, `raw stream ${this.stream} drained`, 5);
  }

  /** Deletes the streams and closes the connection. */
  async close(): Promise<void> {
    for (const name of [this.stream, ...this.extraStreams]) await this.jsm.streams.delete(name).catch(() => undefined);
    await this.nc.close();
  }
}

/** Size of a raw message: about what jetq stores per work item for a `{ i }` payload (190 bytes). */
export const RAW_PAYLOAD_BYTES = 192;

/** Size of a raw outcome record: about what jetq stores as a completed task's record (360 bytes). */
export const RAW_RECORD_BYTES = 360;

/** A JSON payload `{"i":n,"pad":"…"}` of `bytes` bytes (default {@link RAW_PAYLOAD_BYTES}). */
export function rawPayload(i: number, bytes = RAW_PAYLOAD_BYTES): Uint8Array {
  const head = `{"i":${i},"pad":"`;
  return Buffer.from(`${head}${"x".repeat(Math.max(0, bytes - head.length - 2))}"}`);
}
