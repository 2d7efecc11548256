/**
 * The delayed-task and idempotency-key options of `POST /v1/queues/{queue}/tasks`: what they mean
 * for `newTask`, and an enqueue that honours them through storage (as `Client.enqueue` does).
 */
import type { z } from "@hono/zod-openapi";
import { DelayedTasks, enqueueState, MAX_DELAY_MS } from "../jobs/delayed-tasks.js";
import { type DedupeResult, Idempotency, type TaskWriter } from "../jobs/idempotency.js";
import type { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import { type NewTaskOptions, type Task, TaskState } from "../jobs/task.js";
import type { Logger } from "../logger.js";
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

/** Writes tasks to `queue` through storage alone: delayed ones through the scheduler's stream. */
function storageWriter(storage: JetStreamStorage, queue: string, log: Logger): TaskWriter {
  return {
    prepare(task) {
      task.queue = queue;
      task.state = enqueueState(task);
      return storage.encode(task);
    },
    async write(task, data) {
      if (task.state === TaskState.Delayed) {
        await DelayedTasks.for(storage, log).add(task, data);
        return;
      }
      const { duplicate } = await storage.enqueue(task, data);
      if (!duplicate) storage.publishEvents(task);
    },
  };
}

/**
 * Enqueues a task built from a REST body to the existing queue `queue`, honouring its `run_at` /
 * `delay_ms` (already in the task) and `dedupe`.
 * @returns the task that represents the enqueue, and whether it is an existing one (`dedupe` only).
 * @throws ValidationError (`invalid_run_at`, `invalid_dedupe_*`, `dedupe_mode_conflict`,
 * `payload_too_large`, …), StorageError
 */
export async function enqueueWithControls(
  storage: JetStreamStorage,
  task: Task,
  queue: string,
  dedupe: Body["dedupe"],
  log: Logger,
): Promise<DedupeResult> {
  const writer = storageWriter(storage, queue, log);
  if (dedupe) {
    const options = { key: dedupe.key, windowMs: dedupe.window_ms, ...(dedupe.mode ? { mode: dedupe.mode } : {}) };
    return Idempotency.for(storage, log).enqueue(task, queue, options, writer);
  }
  await writer.write(task, writer.prepare(task));
  return { task, duplicate: false };
}
