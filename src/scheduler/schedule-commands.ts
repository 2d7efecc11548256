import { NotFoundError } from "../errors.js";
import { buildSchedule, type ScheduleLimits, type ScheduleSpec } from "./gozo-protocol.js";
import { type Schedule, validateScheduleId } from "./schedule.js";
import type { ScheduleStore } from "./schedule-store.js";

/** A schedule as the request API and the HTTP API show it (JSON). */
export interface ScheduleView {
  id: string;
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

/** Converts a schedule to its JSON view. */
export function viewSchedule(s: Schedule): ScheduleView {
  const v: ScheduleView = {
    id: s.id,
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
  constructor(
    private readonly store: ScheduleStore,
    private readonly limits: ScheduleLimits,
    private readonly clock: () => number = Date.now,
  ) {}

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

  /** Up to `limit` pending schedules after cursor `after` (a stream sequence); `next` continues the listing. */
  async list(limit: number, after = 0): Promise<{ schedules: ScheduleView[]; next?: number }> {
    const { schedules, last, more } = await this.store.list(limit, after);
    return { schedules: schedules.map(viewSchedule), ...(more ? { next: last } : {}) };
  }

  /** Cancels a pending schedule. @throws NotFoundError (`schedule_not_found`) */
  async cancel(id: string): Promise<void> {
    await this.store.cancel(validateScheduleId(id));
  }
}
