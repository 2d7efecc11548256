import type { QueueConfig } from "../jobs/queue.js";
import type { JetStreamStorage } from "../jobs/storage/jetstream-storage.js";
import type { TaskEngine } from "../jobs/task-engine.js";
import type { Logger } from "../logger.js";
import type { ScheduleCommands } from "../scheduler/schedule-commands.js";
import type { Dispatcher } from "./dispatcher.js";
import type { GatewayLimits } from "./limits.js";
import type { QueueCreationGate } from "./queue-creation.js";

/** What the route handlers of the gateway work with. */
export interface RouteDeps {
  /** The service's task engine: the enqueue path, run rules, controls, dead letters. */
  engine: TaskEngine;
  /** `engine.storage`. */
  storage: JetStreamStorage;
  dispatcher: Dispatcher;
  /** The scheduler's operations; schedule endpoints answer 503 `scheduler_unavailable` without them. */
  schedules?: ScheduleCommands;
  limits: GatewayLimits;
  /** Settings of queues that `POST /enqueue/<queue>` creates. */
  queueDefaults: Omit<QueueConfig, "name">;
  /** Whether (and how often) requests may create queues. */
  queueCreation: QueueCreationGate;
  log: Logger;
}
