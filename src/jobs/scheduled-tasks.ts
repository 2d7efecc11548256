import type { KV } from "@nats-io/kv";
import { parseDuration } from "../duration.js";
import { NotFoundError, ValidationError } from "../errors.js";
import { type Recurrence, validateRecurrence } from "../recurrence.js";
import { validateQueueName, validateTaskType } from "./names.js";

/** A named schedule that creates a task on every tick. */
export interface ScheduledTask {
  /** Unique name: 1-64 of `A-Z a-z 0-9 _ -`. */
  name: string;
  /** A cron expression (5–7 fields, seconds first when 6+) or `@every <duration>` (e.g. `@every 5m`). */
  schedule: string;
  /** IANA time zone of a cron schedule. @defaultValue UTC */
  tz?: string;
  /** Queue the tasks go to. */
  queue: string;
  /** Type of the tasks created. */
  type: string;
  /** Payload of the tasks created (JSON). */
  payload?: unknown;
  /** Each task's deadline is its tick plus this (ms). @defaultValue none */
  deadlineMs?: number;
  /** Max tries of each task. @defaultValue the queue's */
  maxTries?: number;
  /** Set when stored, epoch ms. */
  createdAt?: number;
  /**
   * While true the schedule creates no tasks; on resume only a tick missed within the task
   * scheduler's grace period (10 s) is made up. @defaultValue false
   */
  paused?: boolean;
}

/** A change seen by {@link ScheduledTasks.watch}. */
export type ScheduledTaskChange = { name: string; task: ScheduledTask } | { name: string; deleted: true };

const KEY_PREFIX = "cron.";
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Validates a schedule and returns its recurrence. @throws ValidationError */
export function scheduledTaskRecurrence(st: ScheduledTask): Recurrence {
  if (typeof st.name !== "string" || !NAME.test(st.name)) {
    throw new ValidationError(
      "invalid_schedule_name",
      `invalid schedule name ${JSON.stringify(st.name)}: use 1-64 of A-Z a-z 0-9 _ -`,
    );
  }
  validateQueueName(st.queue);
  validateTaskType(st.type);
  if (typeof st.schedule !== "string" || st.schedule.trim() === "")
    throw new ValidationError("invalid_cron", "schedule is required");
  const every = /^@every\s+(.+)$/.exec(st.schedule.trim());
  if (every) return validateRecurrence({ everyMs: parseDuration(every[1]!.trim()) });
  return validateRecurrence(st.tz ? { cron: st.schedule, tz: st.tz } : { cron: st.schedule });
}

/** Stores named task schedules in the config bucket (`cron.<name>`). */
export class ScheduledTasks {
  constructor(private readonly kv: KV) {}

  /** Stores a new schedule. @throws ValidationError; `schedule_exists` when the name is taken. */
  async create(st: ScheduledTask): Promise<ScheduledTask> {
    scheduledTaskRecurrence(st);
    const stored = { ...st, createdAt: st.createdAt ?? Date.now() };
    try {
      await this.kv.create(KEY_PREFIX + st.name, JSON.stringify(stored));
    } catch {
      throw new ValidationError("schedule_exists", `a scheduled task named ${st.name} already exists`);
    }
    return stored;
  }

  /** Loads a schedule. @throws NotFoundError (`schedule_not_found`) */
  async load(name: string): Promise<ScheduledTask> {
    const e = await this.kv.get(KEY_PREFIX + name);
    if (e?.operation !== "PUT") throw new NotFoundError("schedule_not_found", `no scheduled task named ${name}`);
    return e.json<ScheduledTask>();
  }

  /** All schedules. */
  async list(): Promise<ScheduledTask[]> {
    const out: ScheduledTask[] = [];
    for await (const key of await this.kv.keys(`${KEY_PREFIX}>`)) {
      const st = await this.load(key.slice(KEY_PREFIX.length)).catch(() => undefined);
      if (st) out.push(st);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Pauses (or with `paused: false` resumes) a schedule: the elected task scheduler stops (or
   * starts again) creating its tasks at once. @throws NotFoundError (`schedule_not_found`)
   */
  async setPaused(name: string, paused: boolean): Promise<ScheduledTask> {
    const e = await this.kv.get(KEY_PREFIX + name);
    if (e?.operation !== "PUT") throw new NotFoundError("schedule_not_found", `no scheduled task named ${name}`);
    const { paused: _, ...rest } = e.json<ScheduledTask>();
    const next: ScheduledTask = paused ? { ...rest, paused: true } : rest;
    await this.kv.update(KEY_PREFIX + name, JSON.stringify(next), e.revision);
    return next;
  }

  /** Removes a schedule. @throws NotFoundError */
  async remove(name: string): Promise<void> {
    await this.load(name);
    await this.kv.delete(KEY_PREFIX + name);
  }

  /** Every schedule now, then every change, until the iterator is closed. */
  async watch(): Promise<AsyncIterableIterator<ScheduledTaskChange> & { stop(): void }> {
    const w = await this.kv.watch({ key: `${KEY_PREFIX}>` });
    async function* changes(): AsyncGenerator<ScheduledTaskChange> {
      for await (const e of w) {
        const name = e.key.slice(KEY_PREFIX.length);
        if (e.operation === "PUT") yield { name, task: e.json<ScheduledTask>() };
        else yield { name, deleted: true };
      }
    }
    return Object.assign(changes(), { stop: () => w.stop() });
  }
}
