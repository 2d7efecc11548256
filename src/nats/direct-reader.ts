import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { StorageError } from "../errors.js";
import { ReplyInbox } from "./reply-inbox.js";

/** A message read from a stream by direct get. */
export interface DirectMessage {
  subject: string;
  seq: number;
  /** Its headers (including the server's `Nats-*` ones), if any. */
  headers: MsgHdrs | undefined;
  data: Uint8Array;
}

/** What a direct get asks for: the last message of a subject, a sequence, or the next match from one. */
export type DirectQuery = { last_by_subj: string } | { seq: number } | { seq: number; next_by_subj: string };

interface Pending {
  resolve: (messages: DirectMessage[]) => void;
  reject: (err: Error) => void;
  at: number;
  stream: string;
  /** Collecting a batch answer (ends with an EOB status) rather than a single message. */
  batch: boolean;
  got: DirectMessage[];
}

const encoder = new TextEncoder();

/**
 * Reads stream messages with JetStream's direct get (`$JS.API.DIRECT.GET.<stream>`), for many
 * reads in flight at once: one wildcard reply subscription and one sweep timer for all of them,
 * instead of nats.js' request objects with a timer and two stack-capturing errors each (on the
 * worker's hot path, where every delivery reads its task's record, nats.js' request machinery was
 * 8% of the client's CPU). On servers with batched direct get (2.11), {@link lastOfMany} reads the
 * last messages of up to 1,024 subjects in one request.
 */
export class DirectReader {
  private readonly inbox: ReplyInbox<Pending>;

  /**
   * @param batched the server answers `multi_last` requests (2.11 and later).
   * @param timeoutMs how long to wait for an answer. @defaultValue 5000
   */
  constructor(
    nc: NatsConnection,
    private readonly batched: boolean,
    private readonly timeoutMs = 5000,
  ) {
    this.inbox = new ReplyInbox<Pending>({
      nc,
      timeoutMs,
      onAnswer: (m, id, p) => this.answer(m, id, p),
      timedOut: (p) =>
        new StorageError("storage_timeout", `no answer reading stream ${p.stream} within ${this.timeoutMs} ms`),
      closed: (p) => new StorageError("storage_failed", `reader closed before stream ${p.stream} answered`),
      unsent: (p, err) => new StorageError("storage_failed", `reading stream ${p.stream}: ${(err as Error).message}`),
    });
  }

  /** The message `query` names, or undefined when there is none. @throws StorageError */
  async get(stream: string, query: DirectQuery): Promise<DirectMessage | undefined> {
    return (await this.send(stream, query, false))[0];
  }

  /**
   * The last message of each of `subjects` (literal subjects, at most 1,024) that has one, by
   * subject: one request on servers with batched direct get, else one per subject, all in flight
   * at once. @throws StorageError
   */
  async lastOfMany(stream: string, subjects: readonly string[]): Promise<Map<string, DirectMessage>> {
    const found = new Map<string, DirectMessage>();
    if (subjects.length === 0) return found;
    const messages = this.batched
      ? await this.send(stream, { multi_last: subjects, batch: subjects.length }, true)
      : (await Promise.all(subjects.map((s) => this.get(stream, { last_by_subj: s })))).filter(
          (m): m is DirectMessage => m !== undefined,
        );
    for (const m of messages) found.set(m.subject, m);
    return found;
  }

  private send(stream: string, body: object, batch: boolean): Promise<DirectMessage[]> {
    return new Promise<DirectMessage[]>((resolve, reject) => {
      const request = { subject: `$JS.API.DIRECT.GET.${stream}`, data: encoder.encode(JSON.stringify(body)) };
      this.inbox.send({ resolve, reject, at: Date.now(), stream, batch, got: [] }, request);
    });
  }

  private answer(m: Msg, id: number, p: Pending): void {
    const code = m.headers?.code ?? 0;
    if (code === 0 || code === 200) {
      const h = m.headers!;
      p.got.push({ subject: h.get("Nats-Subject"), seq: Number(h.get("Nats-Sequence")), headers: h, data: m.data });
      if (p.batch) return;
    } else if (code !== 404 && code !== 204) {
      this.inbox.done(id);
      p.reject(
        new StorageError("storage_failed", `reading stream ${p.stream}: ${code} ${m.headers?.description ?? ""}`),
      );
      return;
    }
    // 404: nothing there (a batch with no match answers only that); 204: end of a batch.
    this.inbox.done(id);
    p.resolve(p.got);
  }

  /** Stops listening; reads still waiting fail. */
  close(): void {
    this.inbox.close();
  }
}
