import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { QueueAction } from "../jobs/events.js";
import type { JetStreamStorage, QueueInfo } from "../jobs/storage/jetstream-storage.js";
import type { Task } from "../jobs/task.js";
import type { TaskObserver } from "../jobs/task-observer.js";

/** What the scheduler reports to metrics. */
export interface SchedulerStatsSource {
  stats(): { pending: number; fired: number; failed: number } | undefined;
}

/**
 * jetq's Prometheus metrics (names documented in docs/metrics.md). One instance per process;
 * pass it to the client (`metrics` option) and to `jetq serve`.
 */
export class JetqMetrics implements TaskObserver {
  readonly registry = new Registry();
  /** Task state changes seen by this process. */
  readonly taskStates = new Counter({
    name: "jetq_task_state_changes_total",
    help: "Task state changes recorded by this process, by queue, task type and new state",
    labelNames: ["queue", "type", "state"] as const,
    registers: [this.registry],
  });
  /** Handler run time. */
  readonly handlerSeconds = new Histogram({
    name: "jetq_handler_duration_seconds",
    help: "Time handlers ran, by queue, task type and outcome (ok, error)",
    labelNames: ["queue", "type", "outcome"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300],
    registers: [this.registry],
  });
  /** Scheduler fire lateness. */
  readonly schedulerLateness = new Histogram({
    name: "jetq_scheduler_lateness_seconds",
    help: "Delay between a schedule's due time and its fire",
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  /** Queue events seen by this process (pauses, holds, rate limiting, dead letters, ...). */
  readonly queueEvents = new Counter({
    name: "jetq_queue_events_total",
    help: "Queue events published by this process, by queue and action (paused, resumed, held, rate_limited, ...)",
    labelNames: ["queue", "action"] as const,
    registers: [this.registry],
  });
  /** Progress reports and log lines of running tasks. */
  readonly taskReports = new Counter({
    name: "jetq_task_reports_total",
    help: "Progress reports and log lines written by running tasks in this process, by queue and kind (progress, log)",
    labelNames: ["queue", "kind"] as const,
    registers: [this.registry],
  });
  private readonly queues = new Set<string>();

  /**
   * @param storage when given, queue depth, in-flight and consumer lag of every queue this process
   * used (every queue on the NATS with `opts.allQueues`) are read from JetStream at each scrape.
   * @param opts.allQueues gauges for every queue, not only those this process used: for a central
   * exporter such as `jetq serve --metrics`. @defaultValue false
   */
  constructor(storage?: JetStreamStorage, scheduler?: SchedulerStatsSource, opts: { allQueues?: boolean } = {}) {
    const used = this.queues;
    const queues = async (): Promise<Iterable<string>> =>
      storage && opts.allQueues ? new Set([...(await storage.queueNames()), ...used]) : used;
    // The queue gauges are collected together at each scrape; they share one JetStream read
    // per queue (the read in flight is reused, and forgotten once it settles).
    let reading: Promise<Map<string, QueueInfo>> | undefined;
    const read = (): Promise<Map<string, QueueInfo>> => {
      reading ??= (async () => {
        const infos = new Map<string, QueueInfo>();
        for (const q of storage ? await queues() : []) {
          const info = await storage?.queueInfo(q).catch(() => undefined);
          if (info) infos.set(q, info);
        }
        return infos;
      })().finally(() => {
        reading = undefined;
      });
      return reading;
    };
    const gauge = (name: string, help: string, pick: (i: QueueInfo) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["queue"] as const,
        registers: [this.registry],
        async collect() {
          const infos = await read();
          this.reset();
          for (const [q, info] of infos) this.set({ queue: q }, pick(info));
        },
      });
    gauge("jetq_queue_depth", "Items in the queue (waiting or in flight)", (i) => i.depth);
    gauge("jetq_queue_in_flight", "Items handed to workers and not yet acknowledged", (i) => i.inFlight);
    gauge("jetq_queue_consumer_lag", "Items not yet delivered to any worker", (i) => i.pending);
    new Gauge({
      name: "jetq_queue_pending_by_priority",
      help: "Items not yet delivered to any worker, by queue and priority level (0 most urgent)",
      labelNames: ["queue", "priority"] as const,
      registers: [this.registry],
      async collect() {
        const infos = await read();
        this.reset();
        for (const [q, info] of infos) {
          info.pendingByPriority.forEach((n, level) => {
            if (n > 0) this.set({ queue: q, priority: String(level) }, n);
          });
        }
      },
    });
    gauge("jetq_queue_paused", "1 while the queue is paused, else 0", (i) => (i.controls.paused ? 1 : 0));
    gauge("jetq_queue_rate_limit", "Tasks allowed per second by the queue's rate limit (0 = none)", (i) =>
      i.controls.rateLimit ? (i.controls.rateLimit.limit * 1000) / i.controls.rateLimit.intervalMs : 0,
    );
    gauge("jetq_dead_letters", "Tasks in the queue's dead-letter store", (i) => i.deadLetters);
    new Gauge({
      name: "jetq_scheduler_pending",
      help: "Schedules waiting to fire (on the leader)",
      registers: [this.registry],
      collect() {
        this.set(scheduler?.stats()?.pending ?? 0);
      },
    });
    new Counter({
      name: "jetq_scheduler_fired_total",
      help: "Schedules fired by this process since start",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(scheduler?.stats()?.fired ?? 0);
      },
    });
  }

  /** Counts a task's current state (and remembers its queue for the depth gauges). */
  taskState(task: Task): void {
    this.queues.add(task.queue);
    this.taskStates.inc({ queue: task.queue, type: task.type, state: task.state });
  }

  /** Counts a progress report or log line. */
  taskReport(task: Task, kind: "progress" | "log"): void {
    this.taskReports.inc({ queue: task.queue, kind });
  }

  /** Counts a queue event. */
  queueEvent(queue: string, action: QueueAction): void {
    this.queues.add(queue);
    this.queueEvents.inc({ queue, action });
  }

  /** Records a handler's run time. */
  handlerDone(task: Task, seconds: number, ok: boolean): void {
    this.handlerSeconds.observe({ queue: task.queue, type: task.type, outcome: ok ? "ok" : "error" }, seconds);
  }

  /** Records a scheduler fire's lateness. */
  fired(latenessMs: number): void {
    this.schedulerLateness.observe(Math.max(0, latenessMs) / 1000);
  }

  /** The exposition text for a scrape. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
