import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { JetqError } from "../errors.js";
import type { Logger } from "../logger.js";
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

/** The reply of a jetq request API: `{ok: true, ...}` or `{ok: false, error: {code, message}}`. */
export type ApiReply = { ok: true; [k: string]: unknown } | { ok: false; error: { code: string; message: string } };

/** The JSON object body of a request (empty body: `{}`). @throws JetqError (`invalid_json`, `invalid_request`) */
export function parseRequestBody(m: Msg): Record<string, unknown> {
  if (m.data.byteLength === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(m.data).toString("utf8"));
  } catch {
    throw new JetqError("invalid_json", "request body is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new JetqError("invalid_request", "request body must be a JSON object");
  return v as Record<string, unknown>;
}

function idOf(body: Record<string, unknown>): string {
  if (typeof body.id !== "string") throw new JetqError("invalid_request", "id is required");
  return body.id;
}

/**
 * Answers the schedule request API on NATS: add, get, list and cancel, each replying
 * `{ok: true, ...}` or `{ok: false, error: {code, message}}`. Documented in docs/scheduler.md.
 */
export class ScheduleApi {
  private readonly subs: Subscription[] = [];

  constructor(
    private readonly nc: NatsConnection,
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
    for (const [subject, handler] of routes) {
      this.subs.push(
        this.nc.subscribe(subject, {
          queue: SCHEDULE_API_GROUP,
          callback: (_err, m) => void answerRequest(m, handler, this.log),
        }),
      );
    }
  }

  /** Unsubscribes. */
  async stop(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.drain().catch(() => undefined)));
  }
}

/**
 * Answers one request of a jetq request API: the handler's reply, or `{ok: false, error}` with the
 * error's stable code (`internal`, logged, for anything that is not a {@link JetqError}).
 */
export async function answerRequest(
  m: Msg,
  handler: (b: Record<string, unknown>) => Promise<ApiReply>,
  log: Logger,
): Promise<void> {
  let reply: ApiReply;
  try {
    reply = await handler(parseRequestBody(m));
  } catch (err) {
    const code = err instanceof JetqError ? err.code : "internal";
    if (code === "internal")
      log.error("request API call failed", { subject: m.subject, error: (err as Error).message });
    reply = { ok: false, error: { code, message: (err as Error).message } };
  }
  if (m.reply) m.respond(JSON.stringify(reply));
}
