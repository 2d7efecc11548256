import { JetqError } from "../errors.js";
import type { Bus } from "../jobs/storage/bus.js";
import type { Logger } from "../logger.js";
import { type ApiReply, answerRequest } from "../request-api.js";
import type { ScheduleCommands } from "./schedule-commands.js";
import { scheduleSpecFromJson } from "./schedule-request.js";

/** Subjects of the schedule request API (JSON request, JSON reply). */
export const SCHEDULE_API = {
  add: "jetq.api.sched.add",
  get: "jetq.api.sched.get",
  list: "jetq.api.sched.list",
  cancel: "jetq.api.sched.cancel",
} as const;

/** Queue group of the request API, so one instance answers each request. */
export const SCHEDULE_API_GROUP = "jetq-scheduler-api";

/** Most schedules one list request returns. */
export const MAX_LIST = 1000;

function idOf(body: Record<string, unknown>): string {
  if (typeof body.id !== "string") throw new JetqError("invalid_request", "id is required");
  return body.id;
}

/**
 * Answers the schedule request API on NATS: add, get, list and cancel, each replying
 * `{ok: true, ...}` or `{ok: false, error: {code, message}}`. Documented in docs/scheduler.md.
 */
export class ScheduleApi {
  private readonly stops: (() => Promise<void>)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly commands: ScheduleCommands,
    private readonly log: Logger,
  ) {}

  /** Subscribes to the API subjects. */
  start(): void {
    const c = this.commands;
    const routes: [string, (b: Record<string, unknown>) => Promise<ApiReply>][] = [
      [SCHEDULE_API.add, async (b) => ({ ok: true, schedule: await c.add(scheduleSpecFromJson(b)) })],
      [SCHEDULE_API.get, async (b) => ({ ok: true, schedule: await c.get(idOf(b)) })],
      [
        SCHEDULE_API.list,
        async (b) => {
          const limit = b.limit === undefined ? 100 : Number(b.limit);
          const after = b.after === undefined ? 0 : Number(b.after);
          if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST)
            throw new JetqError("invalid_request", `limit must be 1-${MAX_LIST}`);
          if (!Number.isInteger(after) || after < 0)
            throw new JetqError("invalid_request", "after must be a non-negative integer");
          return { ok: true, ...(await c.list(limit, after)) };
        },
      ],
      [
        SCHEDULE_API.cancel,
        async (b) => {
          const id = idOf(b);
          await c.cancel(id);
          return { ok: true, id };
        },
      ],
    ];
    for (const [subject, handler] of routes)
      this.stops.push(this.bus.serve(subject, SCHEDULE_API_GROUP, (m) => answerRequest(m, handler, this.log)));
  }

  /** Unsubscribes. */
  async stop(): Promise<void> {
    await Promise.all(this.stops.map((stop) => stop()));
  }
}
