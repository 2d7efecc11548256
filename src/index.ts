/**
 * jetq — durable jobs and scheduled messages on NATS JetStream.
 * This is the library entry point; the service lives behind the `jetq` CLI.
 */
export { parseDuration } from "./duration.js";
export { ConfigError, JetqError, NotFoundError, StateError, StorageError, ValidationError } from "./errors.js";
export { CANCEL_REQUEST_TTL_MS } from "./jobs/cancellations.js";
export type { Admin, ClientOptions, DurablePublisher, RunOptions } from "./jobs/client.js";
export { Client } from "./jobs/client.js";
export type {
  DeadLetter,
  DeadLetterPage,
  DeadLetterReason,
  DeadLettersParams,
  RedriveAllResult,
} from "./jobs/dead-letters.js";
export { DeadLetters, MAX_DEAD_LETTER_PAGE } from "./jobs/dead-letters.js";
export { DelayedTasks, MAX_DELAY_MS } from "./jobs/delayed-tasks.js";
export type { DependencyResolverParams, DependencyVerdict } from "./jobs/dependencies.js";
export { Dependencies, DependencyResolver } from "./jobs/dependencies.js";
export type { EnqueueOptions, EnqueuerParams } from "./jobs/enqueuer.js";
export { Enqueuer } from "./jobs/enqueuer.js";
export type { EventStream } from "./jobs/event-stream.js";
export { allEvents, taskEvents } from "./jobs/event-stream.js";
export type {
  BaseEvent,
  JetqEvent,
  QueueAction,
  QueueEvent,
  TaskLogEvent,
  TaskProgressEvent,
  TaskStateEvent,
} from "./jobs/events.js";
export {
  parseEvent,
  parseTaskStateEvent,
  QUEUE_ACTIONS,
  QUEUE_EVENT,
  TASK_LOG_EVENT,
  TASK_PROGRESS_EVENT,
  TASK_STATE_EVENT,
} from "./jobs/events.js";
export {
  NoHandlerError,
  RateLimitError,
  RunTimeExceededError,
  TaskCancelledError,
  TerminateTask,
} from "./jobs/handler-errors.js";
export type { ExternalProcessOptions } from "./jobs/handlers/external-process.js";
export { ExternalCommandError, externalProcess } from "./jobs/handlers/external-process.js";
export {
  REMOTE,
  RemoteHandlerError,
  remoteHandler,
  remoteHandlerSubject,
  TASK_CONTENT_TYPE,
} from "./jobs/handlers/remote-handler.js";
export type { DedupeMode, DedupeOptions, DedupeResult } from "./jobs/idempotency.js";
export { MAX_DEDUPE_KEY_BYTES, MAX_DEDUPE_WINDOW_MS, validateDedupe } from "./jobs/idempotency.js";
export { loggingMiddleware, recoveryMiddleware } from "./jobs/middleware.js";
export { isValidQueueName, validateId, validateQueueName, validateTaskType } from "./jobs/names.js";
export { STARVATION_LIMIT } from "./jobs/priority-picker.js";
export type { QueueConfig, ResolvedQueue } from "./jobs/queue.js";
export {
  DEFAULT_DEAD_LETTER_RETENTION_MS,
  DEFAULT_MAX_CONCURRENT,
  DEFAULT_MAX_RUN_TIME_MS,
  DEFAULT_MAX_TRIES,
  DEFAULT_QUEUE,
} from "./jobs/queue.js";
export type { QueueControls, RateLimit } from "./jobs/queue-controls.js";
export type { ExponentialOptions, RetryPolicy } from "./jobs/retry-policy.js";
export {
  customPolicy,
  exponentialPolicy,
  linearPolicy,
  retryDefault,
  retryExponential,
  retryLinearOneHour,
  retryLinearOneMinute,
  retryLinearTenMinutes,
  retryPolicyByName,
  retryPolicyNames,
} from "./jobs/retry-policy.js";
export type { Handler, HandlerContext, Middleware } from "./jobs/router.js";
export { chain, Router } from "./jobs/router.js";
export type { ScheduledTask, ScheduledTaskChange } from "./jobs/scheduled-tasks.js";
export { ScheduledTasks } from "./jobs/scheduled-tasks.js";
export type { SigningKey, VerificationKey } from "./jobs/signing.js";
export { canonicalJson, signTask, verifyTask } from "./jobs/signing.js";
export type { QueueInfo, StorageOptions, TasksInfo } from "./jobs/storage/jetstream-storage.js";
export { DEFAULT_PRIORITY, ELECTED_COMPONENTS, PRIORITY_LEVELS } from "./jobs/storage/layout.js";
export type { QueueRates } from "./jobs/storage/queue-rates.js";
export { sampleQueueRates } from "./jobs/storage/queue-rates.js";
export type { QueueChanges, QueueSetting, QueueUpdateOptions, QueueUpdateResult } from "./jobs/storage/queue-update.js";
export { QUEUE_SETTINGS, queueDifferences, updateQueue } from "./jobs/storage/queue-update.js";
export type { StreamSummary, SystemInfo } from "./jobs/storage/system-info.js";
export { systemInfo } from "./jobs/storage/system-info.js";
export type { TaskLogLine } from "./jobs/storage/task-logs.js";
export { MAX_LOG_LINE_BYTES, MAX_LOG_LINES_PER_TASK } from "./jobs/storage/task-logs.js";
export type { NewTaskOptions, Task, TaskFailure, TaskResult } from "./jobs/task.js";
export { isFinalState, MAX_FAILURES_KEPT, newTask, TaskState } from "./jobs/task.js";
export type { RunRuleOptions, TaskEngineParams } from "./jobs/task-engine.js";
export { TaskEngine } from "./jobs/task-engine.js";
export type { TaskListOptions, TaskListPage, TaskListQuery } from "./jobs/task-list.js";
export { listTasks, MAX_TASK_PAGE, TASKS_LIST_API } from "./jobs/task-list.js";
export type { TaskObserver } from "./jobs/task-observer.js";
export type { TaskSchedulerParams } from "./jobs/task-scheduler.js";
export { TaskScheduler } from "./jobs/task-scheduler.js";
export type { LogFields, LogFormat, Logger, LoggerOptions } from "./logger.js";
export { createLogger, silentLogger } from "./logger.js";
export type { NatsOptions } from "./nats/connect.js";
export { connectNats } from "./nats/connect.js";
export type { NatsServerOptions } from "./nats/nats-server-launcher.js";
export { NatsCluster, NatsServerLauncher } from "./nats/nats-server-launcher.js";
export { ScheduleClient } from "./scheduler/schedule-client.js";
export type { ScheduleView } from "./scheduler/schedule-commands.js";
export type { SchedulerServiceParams } from "./scheduler/scheduler-service.js";
export { SchedulerService } from "./scheduler/scheduler-service.js";
