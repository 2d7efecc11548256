/**
 * The zod schemas of the HTTP gateway. The same objects validate request bodies (see
 * `request-body.ts`) and describe them in the OpenAPI document served at `/v1/openapi.json`.
 */
import { z } from "@hono/zod-openapi";
import { isValidQueueName, validateId } from "../jobs/names.js";

/** Longest emq `retry` accepted: 7 days, in seconds. */
export const MAX_RETRY_S = 7 * 86_400;
/** Longest emq `expiry` accepted: 10 years, in seconds. */
export const MAX_EXPIRY_S = 10 * 365 * 86_400;

/**
 * A queue name. Validation is `isValidQueueName` (src/jobs/names.ts, the authority); the pattern
 * only documents it in the OpenAPI document.
 */
export const QueueName = z
  .string()
  .refine(isValidQueueName, {
    message: "invalid queue name: use 1-64 of A-Z a-z 0-9 _ -",
    params: { code: "invalid_queue_name" },
  })
  .openapi({ pattern: "^[A-Za-z0-9_-]{1,64}$", example: "emails" });

function isValidId(s: string): boolean {
  try {
    validateId(s);
    return true;
  } catch {
    return false;
  }
}

/** A task id as found in `/wait` replies and task records. */
export const TaskId = z
  .string()
  .refine(isValidId, {
    message: "invalid id: use 1-128 of A-Z a-z 0-9 _ : -",
    params: { code: "invalid_id" },
  })
  .openapi({ pattern: "^[A-Za-z0-9_:-]{1,128}$", example: "01JA2B3C4D5E6F7G8H9JKMNPQR" });

/** Every error answer: `{error, message}`. */
export const ErrorBody = z
  .object({
    error: z.string().openapi({ example: "invalid_queue_name" }),
    message: z.string(),
  })
  .openapi("Error");

// ---- emq face -------------------------------------------------------------------------------

const seconds = (max: number) => z.number().nonnegative().max(max);

/** `POST /enqueue/<queue>` body. */
export const EmqEnqueueBody = z
  .strictObject({
    content: z.unknown().optional().openapi({ description: "Any JSON value; becomes the task's payload." }),
    retry: seconds(MAX_RETRY_S).optional().openapi({
      description:
        "Seconds after dispatch after which an un-acked task counts as failed (0 or absent: the queue's maxRunTimeMs).",
    }),
    expiry: seconds(MAX_EXPIRY_S)
      .optional()
      .openapi({ description: "Seconds the task lives in the queue regardless of dispatch (0 or absent: 1 day)." }),
  })
  .openapi("EmqEnqueue");

/** `POST /enqueue/<queue>` reply. */
export const EmqEnqueueReply = z.object({ id: z.string() }).openapi("EmqEnqueued");

/** `POST /wait/` body. */
export const EmqWaitBody = z
  .strictObject({
    timeout: z
      .number()
      .nonnegative()
      .optional()
      .openapi({ description: "Milliseconds to wait; 0 or absent: answer at once." }),
    queues: z.array(QueueName).openapi({ description: "Queues to take one task each from; repeats allowed." }),
  })
  .openapi("EmqWait");

/** One dispatched task in a `/wait` reply. */
export const EmqTask = z
  .object({
    id: z.string(),
    content: z.unknown().openapi({ description: "The task's payload (null for a binary payload)." }),
    content_b64: z.string().optional().openapi({ description: "Base64 of a binary payload." }),
    trace_context: z
      .record(z.string(), z.string())
      .optional()
      .openapi({ description: "jetq extension: the task's W3C trace context, when it is traced (docs/tracing.md)." }),
  })
  .openapi("EmqTask");

/** `POST /wait/` reply: aligned with `queues`, `null` where that queue had nothing when the wait ended. */
export const EmqWaitReply = z.array(EmqTask.nullable()).openapi("EmqWaitReply");

/** `POST /ack/` and `POST /nak/` body. */
export const EmqIdsBody = z.strictObject({ ids: z.array(TaskId) }).openapi("EmqIds");

/** `POST /ack/` and `POST /nak/` reply. */
export const EmqIdsReply = z.object({ count: z.number().int() }).openapi("EmqSettled");

/** `GET /peek/<queue>` reply. */
export const EmqPeekReply = z.array(EmqTask).openapi("EmqPeek");

/** `GET /queues/` reply. */
export const EmqQueuesReply = z.array(z.string()).openapi("EmqQueues");

// ---- REST (/v1) ------------------------------------------------------------------------------

const count = z.number().int().nonnegative();

/** A queue definition as the REST API shows and takes it (all fields optional when creating). */
export const QueueConfigBody = z
  .strictObject({
    max_age_ms: count.optional().openapi({ description: "Longest an item may wait; 0 = no limit. Default 0." }),
    max_entries: count.optional().openapi({ description: "Most items the queue holds; 0 = no limit. Default 0." }),
    discard_old: z.boolean().optional().openapi({ description: "When full, drop the oldest items. Default false." }),
    max_tries: count.optional().openapi({ description: "Most handler invocations per task. Default 10." }),
    max_run_time_ms: count.optional().openapi({ description: "Longest a try may run. Default 3600000 (1 h)." }),
    max_concurrent: count.optional().openapi({ description: "Most tasks in flight across consumers. Default 100." }),
    redeliver_after_ms: count.optional().openapi({
      description:
        "How long before the item of a silent (dead) consumer is handed out again. Default min(max_run_time_ms, 30000).",
    }),
    dead_letters: z
      .boolean()
      .optional()
      .openapi({ description: "Keep tasks that fail for good in the dead-letter store. Default true." }),
    dead_letter_retention_ms: count
      .optional()
      .openapi({ description: "How long dead letters are kept; 0 = until purged. Default 604800000 (7 days)." }),
  })
  .openapi("QueueConfigInput");

/** A stored queue definition. */
export const QueueConfigView = z
  .object({
    name: z.string(),
    max_age_ms: z.number(),
    max_entries: z.number(),
    discard_old: z.boolean(),
    max_tries: z.number(),
    max_run_time_ms: z.number(),
    max_concurrent: z.number(),
    redeliver_after_ms: z.number(),
    dead_letters: z.boolean(),
    dead_letter_retention_ms: z.number(),
  })
  .openapi("QueueConfig");

/** `PATCH /v1/queues/{queue}` reply: the definition now, and the fields that changed. */
export const QueueUpdateReply = z
  .object({
    config: QueueConfigView,
    changed: z.array(z.string()).openapi({ description: "Fields that changed (snake_case); empty when none did." }),
  })
  .openapi("QueueUpdate");

/** The runtime controls of a queue. */
export const QueueControlsView = z
  .object({
    paused: z.boolean(),
    paused_at: z.string().optional().openapi({ description: "When it was paused (RFC 3339)." }),
    rate_limit: z
      .object({ limit: z.number(), interval_ms: z.number() })
      .optional()
      .openapi({ description: "At most `limit` task starts per `interval_ms`, across all consumers." }),
    hold_until: z.string().optional().openapi({ description: "No new work is handed out before this time." }),
  })
  .openapi("QueueControls");

/** Live numbers of a queue. */
export const QueueInfoView = z
  .object({
    name: z.string(),
    config: QueueConfigView,
    depth: z.number().openapi({ description: "Items waiting or in flight." }),
    in_flight: z.number().openapi({ description: "Items handed out and not yet settled." }),
    pending: z.number().openapi({ description: "Items never handed out yet." }),
    pending_by_priority: z.array(z.number()).openapi({ description: "Items never handed out, by priority 0-9." }),
    controls: QueueControlsView,
    dead_letters: z.number().openapi({ description: "Tasks in the queue's dead-letter store." }),
  })
  .openapi("QueueInfo");

/** `PUT /v1/queues/{queue}/rate-limit` body. */
export const RateLimitBody = z
  .strictObject({
    limit: z.number().int().min(1).openapi({ description: "Task starts allowed per interval (and largest burst)." }),
    interval_ms: z.number().int().min(1).max(86_400_000).openapi({ description: "The interval, ms." }),
  })
  .openapi("RateLimitInput");

/** `GET /v1/tasks/{id}/logs` reply. */
export const TaskLogsReply = z
  .object({ lines: z.array(z.object({ at: z.string(), line: z.string() })) })
  .openapi("TaskLogs");

/** `GET /v1/queues` reply. */
export const QueueListReply = z.object({ queues: z.array(z.string()) }).openapi("QueueList");

/** `POST /v1/queues/{queue}/purge` reply. */
export const PurgeReply = z.object({ purged: z.number() }).openapi("Purged");

/** An idempotency key with its window (docs/idempotency.md). */
export const DedupeBody = z
  .strictObject({
    key: z.string().openapi({ description: "Idempotency key, 1-1024 bytes, scoped to the queue." }),
    window_ms: z.number().openapi({ description: "How long the key holds, 1 ms to 7 days." }),
    mode: z.enum(["throttle", "debounce"]).optional().openapi({
      description:
        "throttle (default): later enqueues get the first task back. debounce: the task runs window_ms after the latest enqueue, with its payload.",
    }),
  })
  .openapi("Dedupe");

/** `POST /v1/queues/{queue}/tasks` body: a task with every option of `newTask`. */
export const TaskBody = z
  .strictObject({
    type: z.string().openapi({ description: "Routing key, 1-128 of A-Z a-z 0-9 _ : -", example: "email:send" }),
    payload: z.unknown().optional().openapi({ description: "Any JSON value." }),
    payload_b64: z.string().optional().openapi({ description: "A binary payload, base64 (instead of payload)." }),
    id: z.string().optional().openapi({ description: "Task id (default: a new ULID); de-duplicates enqueues." }),
    deadline: z
      .union([z.string(), z.number()])
      .optional()
      .openapi({ description: "RFC 3339 time or epoch ms after which the task must not start." }),
    max_tries: count.optional().openapi({ description: "Tries for this task, capped by the queue's. Default 0." }),
    priority: z.number().int().min(0).max(9).optional().openapi({ description: "0 (most urgent) to 9. Default 5." }),
    run_at: z
      .union([z.string(), z.number()])
      .optional()
      .openapi({ description: "RFC 3339 time or epoch ms before which the task must not start (state `delayed`)." }),
    delay_ms: z
      .number()
      .nonnegative()
      .optional()
      .openapi({ description: "Start no earlier than this many ms from now." }),
    dedupe: DedupeBody.optional(),
  })
  .openapi("TaskInput");

/** A task in its wire form (docs/storage.md). */
export const TaskView = z
  .object({
    id: z.string(),
    type: z.string(),
    queue: z.string(),
    payload: z.unknown().optional(),
    payload_b64: z.string().optional(),
    deadline: z.string().optional(),
    max_tries: z.number(),
    priority: z.number(),
    result: z.object({ value: z.unknown(), completed: z.string() }).optional(),
    state: z.string(),
    created: z.string(),
    tried: z.string().optional(),
    tries: z.number(),
    last_err: z.string().optional(),
    progress: z.unknown().optional().openapi({ description: "Latest progress its handler reported." }),
    logs: z
      .array(z.object({ at: z.string(), line: z.string() }))
      .optional()
      .openapi({ description: "Log lines, with `?logs=true`." }),
    failures: z
      .array(z.object({ try: z.number(), at: z.string(), error: z.string() }))
      .optional()
      .openapi({ description: "The most recent failed tries (at most 10), oldest first." }),
    run_at: z.string().optional(),
    trace_context: z.record(z.string(), z.string()).optional().openapi({
      description: "W3C trace context (`traceparent`, `tracestate`) of the span that queued it (docs/tracing.md).",
    }),
  })
  .openapi("Task");

/** A reply carrying one task. */
export const TaskReply = z.object({ task: TaskView }).openapi("TaskReply");

/** `GET /v1/tasks` reply (also the reply of `jetq.api.tasks.list`, with `ok: true`). */
export const TaskListReply = z
  .object({
    tasks: z.array(TaskView),
    next_cursor: z
      .string()
      .optional()
      .openapi({ description: "Present when more may follow: pass it as `cursor` for the next page." }),
  })
  .openapi("TaskList");

/** `GET /v1/tasks` query parameters (documentation only; the route checks them). */
export const TaskListQueryParams = z.object({
  queue: z.string().optional().openapi({ description: "Only this queue" }),
  state: z.string().optional().openapi({
    description:
      "Only this state: `new` (waiting in the queue), `active`, `retry`, `delayed`, `blocked`, `complete`, `expired`, `terminated`, `unreachable`, `cancelled`. Without it: waiting tasks first, then every other state.",
  }),
  type: z.string().optional().openapi({ description: "Only this task type" }),
  id: z.string().optional().openapi({ description: "Only the task with this id" }),
  limit: z.string().optional().openapi({ description: "1-1000, default 100" }),
  cursor: z.string().optional().openapi({ description: "A previous page's `next_cursor`" }),
});

/** The `limit` and `after` query parameters of a paged listing (documentation only; routes parse them). */
export const pageQuery = (max: number) =>
  z.object({
    limit: z
      .string()
      .optional()
      .openapi({ description: `1-${max}, default 100` }),
    after: z.string().optional().openapi({ description: "Cursor from a previous page's `next`" }),
  });

/** The cursor of a paged listing's reply. */
const nextCursor = z.number().optional().openapi({ description: "Pass as `after` to continue the listing." });
/** `POST /v1/queues/{queue}/tasks` reply. */
export const EnqueueReply = z
  .object({
    task: TaskView,
    duplicate: z
      .boolean()
      .optional()
      .openapi({ description: "With `dedupe`: true when the key was held and the task shown is the existing one." }),
  })
  .openapi("EnqueueReply");

const optText = z.string().nullish();

/** `POST /v1/schedules` body: the request API's "add" body (docs/scheduler.md). */
export const ScheduleBody = z
  .object({
    id: optText.openapi({ description: "Unique id; an existing schedule with it is replaced." }),
    subject: z.string().openapi({ description: "Subject the message is published to.", example: "orders.remind" }),
    when: optText.openapi({ description: "Epoch seconds, +seconds, +N(ms|s|m|h|d) or RFC 3339.", example: "+30s" }),
    cron: optText.openapi({ description: "Cron expression of a recurring schedule." }),
    tz: optText.openapi({ description: "IANA time zone of cron." }),
    every: z
      .union([z.string(), z.number()])
      .nullish()
      .openapi({ description: "Interval of a recurring schedule ('30s', '5m' or ms)." }),
    payload: optText.openapi({ description: "Message body as text." }),
    payload_b64: optText.openapi({ description: "Message body as base64." }),
    headers: z
      .record(z.string(), z.union([z.string(), z.array(z.string())]))
      .nullish()
      .openapi({ description: "Headers passed through to the fired message." }),
  })
  .openapi("ScheduleInput");

/** A pending schedule. */
export const ScheduleView = z
  .object({
    id: z.string(),
    kind: z.enum(["message", "delayed_task"]).openapi({
      description:
        "`delayed_task`: a jetq task waiting for its run_at (its id in `task_id`); `message`: anything else.",
    }),
    task_id: z.string().optional(),
    subject: z.string(),
    due: z.string(),
    due_ms: z.number(),
    cron: z.string().optional(),
    tz: z.string().optional(),
    every_ms: z.number().optional(),
    headers: z.record(z.string(), z.array(z.string())),
    payload: z.string().optional(),
    payload_b64: z.string(),
    created: z.string(),
  })
  .openapi("Schedule");

/** A reply carrying one schedule. */
export const ScheduleReply = z.object({ schedule: ScheduleView }).openapi("ScheduleReply");

/** `GET /v1/schedules` reply. */
export const ScheduleListReply = z
  .object({
    schedules: z.array(ScheduleView),
    next: nextCursor,
  })
  .openapi("ScheduleList");

/** `DELETE /v1/schedules/{id}` reply. */
export const CancelReply = z.object({ id: z.string() }).openapi("Cancelled");

/** A task that failed for good, in its queue's dead-letter store (docs/dead-letters.md). */
export const DeadLetterView = z
  .object({
    task: TaskView,
    reason: z.enum(["expired", "terminated"]).openapi({ description: "The final state that put it here." }),
    dead_at: z.string().openapi({ description: "When it was dead-lettered (RFC 3339)." }),
    seq: z.number().openapi({ description: "Its sequence in the dead-letter stream (listing cursor)." }),
  })
  .openapi("DeadLetter");

/** A reply carrying one dead letter. */
export const DeadLetterReply = z.object({ dead_letter: DeadLetterView }).openapi("DeadLetterReply");

/** `GET /v1/queues/{queue}/dead-letters` reply. */
export const DeadLetterListReply = z
  .object({
    dead_letters: z.array(DeadLetterView),
    next: nextCursor,
  })
  .openapi("DeadLetterList");

/** `POST /v1/queues/{queue}/dead-letters/redrive` reply. */
export const RedriveAllReply = z
  .object({
    redriven: z.number().openapi({ description: "Tasks put back in the queue." }),
    skipped: z.number().openapi({ description: "Entries left in place (signed tasks whose deadline passed)." }),
  })
  .openapi("RedriveAll");

/** A named task schedule (cron or `@every`), as `jetq cron … --json` shows it. */
export const ScheduledTaskView = z
  .object({
    name: z.string(),
    schedule: z
      .string()
      .openapi({ description: "Cron expression (seconds first when 6+ fields) or `@every <duration>`." }),
    tz: z.string().optional(),
    queue: z.string(),
    type: z.string(),
    payload: z.unknown().optional(),
    deadline_ms: z.number().optional(),
    max_tries: z.number().optional(),
    paused: z.boolean(),
    created: z.string().optional(),
    next_runs: z.array(z.string()).openapi({ description: "The next fire times (RFC 3339); none while paused." }),
  })
  .openapi("ScheduledTask");
