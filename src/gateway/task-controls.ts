/**
 * The delayed-task and idempotency-key options of `POST /v1/queues/{queue}/tasks`: what they mean
 * for `newTask`, and the enqueue that honours them (the engine's, as `Client.enqueue`).
 */
import type { z } from "@hono/zod-openapi";
import { MAX_DELAY_MS } from "../jobs/delayed-tasks.js";
import type { DedupeOptions, DedupeResult } from "../jobs/idempotency.js";
import type { NewTaskOptions, Task } from "../jobs/task.js";
import type { TaskEngine } from "../jobs/task-engine.js";
import { RFC3339 } from "../scheduler/when.js";
import { checkTime } from "../time-range.js";
import { badRequest } from "./http-errors.js";
import type { TaskBody } from "./schemas.js";

type Body = z.infer<typeof TaskBody>;

/**
 * The `runAt` / `delayMs` options of a task body (`run_at`: RFC 3339 or epoch ms; `delay_ms`).
 * Times are bounded to 1970 through year 9999.
 * @throws HttpError 400 `invalid_run_at`
 */
export function runAtOptions(b: Body): Pick<NewTaskOptions, "runAt" | "delayMs"> {
  const out: Pick<NewTaskOptions, "runAt" | "delayMs"> = {};
  if (b.run_at !== undefined) {
    const ms = typeof b.run_at === "number" ? b.run_at : RFC3339.test(b.run_at) ? Date.parse(b.run_at) : Number.NaN;
    if (!Number.isFinite(ms)) {
      throw badRequest(
        "invalid_run_at",
        "run_at must be an RFC 3339 time (with seconds and zone) or epoch milliseconds",
      );
    }
    out.runAt = checkTime(ms, "run_at", "invalid_run_at");
  }
  if (b.delay_ms !== undefined) {
    if (b.delay_ms > MAX_DELAY_MS)
      throw badRequest("invalid_run_at", `delay_ms may be at most ${MAX_DELAY_MS} (${MAX_DELAY_MS / 86_400_000} days)`);
    out.delayMs = b.delay_ms;
  }
  return out;
}

/**
 * Enqueues a task built from a REST body to the existing queue `queue` through the engine's one
 * enqueue path, honouring its `run_at` / `delay_ms` (already in the task) and `dedupe`.
 * @returns the task that represents the enqueue, and whether it is an existing one (`dedupe` only).
 * @throws ValidationError (`invalid_run_at`, `invalid_dedupe_*`, `dedupe_mode_conflict`,
 * `payload_too_large`, …), StorageError
 */
export function enqueueWithControls(
  engine: TaskEngine,
  task: Task,
  queue: string,
  dedupe: DedupeOptions | undefined,
): Promise<DedupeResult> {
  return engine.enqueuer.enqueue(task, { queue, ...(dedupe ? { dedupe } : {}) });
}
