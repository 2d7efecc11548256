/**
 * A client of the scheduler's request API (`jetq.api.sched.*`, answered by `jetq serve`): add,
 * get, list and cancel delayed and recurring messages from any process on the NATS.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { JetqError, NotFoundError, StorageError, ValidationError } from "../errors.js";
import { isNoResponders } from "../nats/no-responders.js";
import { SCHEDULE_API } from "./schedule-api.js";
import type { ScheduleView } from "./schedule-commands.js";

/** The error class of an error code in the API's replies. */
function errorOf(code: string, message: string): JetqError {
  if (code.endsWith("_not_found")) return new NotFoundError(code, message);
  if (code === "storage_failed") return new StorageError(code, message);
  if (code === "internal") return new JetqError(code, message);
  return new ValidationError(code, message);
}

/** Calls the scheduler's request API; `timeoutMs` per call (default 5000). */
export class ScheduleClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {}

  private async call<T>(subject: string, body: Record<string, unknown>): Promise<T> {
    let data: Uint8Array;
    try {
      data = (await this.nc.request(subject, JSON.stringify(body), { timeout: this.timeoutMs })).data;
    } catch (err) {
      const none = isNoResponders(err);
      throw new StorageError(
        none ? "scheduler_unavailable" : "storage_failed",
        none
          ? `no scheduler answers ${subject}: start jetq serve on this NATS`
          : `${subject}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    let reply: ({ ok: true } & T) | { ok: false; error: { code: string; message: string } };
    try {
      reply = JSON.parse(Buffer.from(data).toString("utf8"));
    } catch {
      throw new JetqError("invalid_reply", `${subject} answered with something that is not JSON`);
    }
    if (!reply.ok) throw errorOf(String(reply.error?.code), String(reply.error?.message));
    const { ok: _, ...rest } = reply;
    return rest as T;
  }

  /**
   * Stores a schedule (the request API's add body: `subject`, `when` | `cron` (+ `tz`) | `every`,
   * `payload` | `payload_b64`, `headers`, `id`). @throws ValidationError, StorageError
   */
  async add(spec: Record<string, unknown>): Promise<ScheduleView> {
    return (await this.call<{ schedule: ScheduleView }>(SCHEDULE_API.add, spec)).schedule;
  }

  /** A pending schedule. @throws NotFoundError (`schedule_not_found`) */
  async get(id: string): Promise<ScheduleView> {
    return (await this.call<{ schedule: ScheduleView }>(SCHEDULE_API.get, { id })).schedule;
  }

  /** Up to `limit` pending schedules after cursor `after`; `next` continues. */
  list(limit = 100, after = 0): Promise<{ schedules: ScheduleView[]; next?: number }> {
    return this.call(SCHEDULE_API.list, { limit, after });
  }

  /** Cancels a pending schedule. @throws NotFoundError (`schedule_not_found`) */
  async cancel(id: string): Promise<void> {
    await this.call(SCHEDULE_API.cancel, { id });
  }
}
