import { errorMessage, NotFoundError } from "../errors.js";
import { delayedTaskIdOf } from "../jobs/storage/layout.js";
import { type Schedule, validateScheduleId } from "../jobs/storage/schedule-codec.js";
import type { ScheduleStore } from "../jobs/storage/schedule-store.js";
import type { Logger } from "../logger.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { buildSchedule, type ScheduleLimits, type ScheduleSpec } from "./gozo-protocol.js";

/** A schedule as the request API and the HTTP API show it (JSON). */
export interface ScheduleView {
  id: string;
  /** `delayed_task`: a jetq task waiting for its `runAt` (see `task_id`); `message`: anything else. */
  kind: "message" | "delayed_task";
  /** The delayed task's id (kind `delayed_task` only). */
  task_id?: string;
  subject: string;
  /** Next fire time, RFC 3339. */
  due: string;
  /** Next fire time, epoch ms. */
  due_ms: number;
  cron?: string;
  tz?: string;
  every_ms?: number;
  headers: Record<string, string[]>;
  /** Payload as UTF-8 text when it is valid UTF-8, else omitted (see `payload_b64`). */
  payload?: string;
  payload_b64: string;
  created: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Converts a schedule to its JSON view.
 * @throws RangeError when a time of the schedule cannot be shown as a date (only stored schedules
 * written before times were bounded, or written to the stream directly, can hold such times).
 */
export function viewSchedule(s: Schedule): ScheduleView {
  const taskId = delayedTaskIdOf(s.id);
  const v: ScheduleView = {
    id: s.id,
    kind: taskId === undefined ? "message" : "delayed_task",
    ...(taskId === undefined ? {} : { task_id: taskId }),
    subject: s.target,
    due: new Date(s.due).toISOString(),
    due_ms: s.due,
    headers: s.headers,
    payload_b64: Buffer.from(s.payload).toString("base64"),
    created: new Date(s.createdAt).toISOString(),
  };
  try {
    v.payload = utf8.decode(s.payload);
  } catch {
    // binary payload: payload_b64 only
  }
  if (s.recurrence && "cron" in s.recurrence) {
    v.cron = s.recurrence.cron;
    if (s.recurrence.tz) v.tz = s.recurrence.tz;
  } else if (s.recurrence) v.every_ms = s.recurrence.everyMs;
  return v;
}

/**
 * The schedule operations shared by the NATS request API and the HTTP API: every call validates,
 * writes to the schedules stream and answers only once the write is stored.
 */
export class ScheduleCommands {
  private readonly warn: RateLimitedLog;

  constructor(
    private readonly store: ScheduleStore,
    private readonly limits: ScheduleLimits,
    log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.warn = new RateLimitedLog(log);
  }

  /** Stores a schedule; resolves with the stored view. @throws ValidationError, StorageError */
  async add(spec: ScheduleSpec): Promise<ScheduleView> {
    const s = buildSchedule(spec, this.clock(), this.limits);
    await this.store.save(s);
    return viewSchedule(s);
  }

  /** A pending schedule. @throws NotFoundError (`schedule_not_found`) */
  async get(id: string): Promise<ScheduleView> {
    const s = await this.store.get(validateScheduleId(id));
    if (!s) throw new NotFoundError("schedule_not_found", `no pending schedule with id ${JSON.stringify(id)}`);
    return viewSchedule(s);
  }

  /**
   * Up to `limit` pending schedules after cursor `after` (a stream sequence); `next` continues the
   * listing. A stored schedule that cannot be read or shown is left out (and logged, rate-limited),
   * so one bad message never breaks the listing.
   */
  async list(limit: number, after = 0): Promise<{ schedules: ScheduleView[]; next?: number }> {
    const { schedules, last, more } = await this.store.list(limit, after, (seq, err) => this.skipped(seq, err));
    const views: ScheduleView[] = [];
    for (const s of schedules) {
      try {
        views.push(viewSchedule(s));
      } catch (err) {
        this.skipped(undefined, err, s.id);
      }
    }
    return { schedules: views, ...(more ? { next: last } : {}) };
  }

  private skipped(seq: number | undefined, err: unknown, id?: string): void {
    this.warn.warn("list_unreadable", "left an unreadable stored schedule out of a listing", {
      ...(seq !== undefined ? { seq } : {}),
      ...(id !== undefined ? { id: id.slice(0, 200) } : {}),
      error: errorMessage(err),
    });
  }

  /**
   * Cancels a pending schedule. Delayed tasks' schedules (`jetq-task-…`) are cancelled by
   * cancelling the task. @throws ValidationError (`reserved_id`), NotFoundError (`schedule_not_found`)
   */
  async cancel(id: string): Promise<void> {
    await this.store.cancel(this.limits.policy.checkId(validateScheduleId(id)));
  }
}
