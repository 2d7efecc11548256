/**
 * Delayed tasks: a task whose `runAt` lies ahead is stored as `delayed` and handed to the
 * scheduler as a schedule whose target is the task's work subject, so the scheduler (the elected
 * leader of `jetq serve`, or any `SchedulerService`) puts it in its queue at `runAt`, with the
 * precision and crash safety of delayed messages. See docs/scheduler.md.
 */
import type { MsgHdrs } from "@nats-io/nats-core";
import { NotFoundError, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DurablePublisher } from "./enqueuer.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { delayedTaskScheduleId, recordMsgId, taskSubject, workSubject } from "./storage/layout.js";
import { encodeSchedule, type Schedule } from "./storage/schedule-codec.js";
import type { ScheduleStore } from "./storage/schedule-store.js";
import { decodeTask, encodeTask, recordHeaderValues } from "./storage/task-codec.js";
import { type Task, TaskState } from "./task.js";

/** Longest a task may be delayed: 10 years, the scheduler's own limit for delayed messages. */
export const MAX_DELAY_MS = 10 * 365 * 86_400_000;

/** Election key of the component that fires schedules (what `SchedulerService` campaigns for). */
const SCHEDULER_COMPONENT = "scheduler";

/**
 * The state a task is enqueued in: `delayed` when its `runAt` lies ahead of `now`, else `new` (a
 * `runAt` now or in the past enqueues at once).
 * @throws ValidationError `invalid_run_at` for a `runAt` more than {@link MAX_DELAY_MS} ahead;
 * `unsupported` for a delayed task with dependencies.
 */
export function enqueueState(task: Task, now = Date.now()): TaskState {
  if (task.runAt === undefined || task.runAt <= now) return TaskState.New;
  if (task.runAt - now > MAX_DELAY_MS) {
    throw new ValidationError("invalid_run_at", `runAt may be at most ${MAX_DELAY_MS / 86_400_000} days ahead`);
  }
  if (task.dependencies?.length) {
    throw new ValidationError("unsupported", "a task cannot both wait for a time (runAt) and for dependencies");
  }
  return TaskState.Delayed;
}

/** The de-duplication id of a delayed task's first schedule message (a repeated enqueue stores it once). */
const scheduleMsgId = (task: Task): string => `${delayedTaskScheduleId(task.id)}:${task.runAt}`;

function headerRecord(h: MsgHdrs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of h.keys()) out[k] = h.get(k);
  return out;
}

/**
 * Writes, rewrites and cancels delayed tasks on one storage (one per storage, made by its owner);
 * the scheduler's stream is opened (created when missing, with the storage's replicas and memory
 * settings) on first use.
 */
export class DelayedTasks {
  private schedulerChecked = false;

  constructor(
    private readonly storage: JetStreamStorage,
    private readonly log: Logger,
  ) {}

  /** The scheduler's stream (`JETQ_SCHEDULES`), opened once by the storage. */
  schedules(): Promise<ScheduleStore> {
    return this.storage.schedules();
  }

  /** The schedule that fires `task` (state `delayed`, `runAt` set) into its queue as a `new` work item. */
  private scheduleOf(task: Task): Schedule {
    return {
      id: delayedTaskScheduleId(task.id),
      echoId: false,
      target: workSubject(task.queue, task.id, task.priority),
      due: task.runAt!,
      payload: encodeTask({ ...task, state: TaskState.New }),
      headers: {},
      createdAt: Date.now(),
    };
  }

  /**
   * Stores a new delayed task: its record (`record`: the task encoded in state `delayed`), then its
   * schedule, each acknowledged before the next, so a task whose enqueue resolved survives any crash.
   * Through an `outbox` both go to the outbox, in that order. Enqueuing the same task again within
   * JetStream's duplicate window stores it once. (The enqueuer publishes the `delayed` event.)
   * @returns whether JetStream recognised the record as a duplicate.
   */
  async add(task: Task, record: Uint8Array, outbox?: DurablePublisher): Promise<{ duplicate: boolean }> {
    const schedule = this.scheduleOf(task);
    if (outbox) {
      const msg = encodeSchedule(schedule);
      await Promise.all([
        outbox.publish(taskSubject(task.id), record, {
          msgId: recordMsgId(task.id),
          headers: recordHeaderValues(task),
        }),
        outbox.publish(msg.subject, msg.data, { msgId: scheduleMsgId(task), headers: headerRecord(msg.headers) }),
      ]);
      return { duplicate: false };
    }
    this.checkScheduler();
    const store = await this.schedules();
    const { duplicate } = await this.storage.saveRecord(task, record, recordMsgId(task.id));
    // Even when the record was a duplicate: an earlier try may have stopped before the schedule.
    await store.save(schedule, { msgId: scheduleMsgId(task) });
    return { duplicate };
  }

  /**
   * Replaces a pending delayed task (same id) with `task` — new payload, new `runAt` — by writing
   * its record and then its schedule, which takes the place of the pending one. No event is
   * published. If the scheduler fired the pending version before the new schedule was stored, both
   * versions run (see docs/idempotency.md for how debouncing keeps clear of that).
   */
  async reschedule(task: Task, record: Uint8Array): Promise<void> {
    const store = await this.schedules();
    await this.storage.saveRecord(task, record);
    await store.save(this.scheduleOf(task));
  }

  /**
   * The pending version of a delayed task (as it will be put in its queue, `runAt` = its due time),
   * or undefined when none is pending: never delayed, already fired, or cancelled.
   */
  async pending(taskId: string): Promise<Task | undefined> {
    const s = await (await this.schedules()).get(delayedTaskScheduleId(taskId));
    if (!s) return undefined;
    const task = decodeTask(s.payload);
    task.runAt = s.due;
    return task;
  }

  /**
   * Stops a pending delayed task from being put in its queue by storing the scheduler's cancel
   * marker in place of its schedule. Resolves `false` when nothing was pending. A task whose
   * schedule fired just before may still reach its queue; the caller settles its record and work item.
   */
  async cancel(taskId: string): Promise<boolean> {
    const store = await this.schedules();
    try {
      await store.cancel(delayedTaskScheduleId(taskId));
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
    return true;
  }

  /** Logs one warning (per storage) when no scheduler leader holds its election claim. */
  private checkScheduler(): void {
    if (this.schedulerChecked) return;
    this.schedulerChecked = true;
    void (async () => {
      let leader: string | undefined;
      try {
        leader = await this.storage.leader(SCHEDULER_COMPONENT);
      } catch (err) {
        this.log.debug("could not check for a scheduler", { error: (err as Error).message });
        return;
      }
      if (leader) return;
      this.log.warn(
        "delayed tasks are stored, but no scheduler is running to put them in their queues at their runAt: " +
          "run `jetq serve` on this NATS, or a SchedulerService in a process of yours",
      );
    })();
  }
}
