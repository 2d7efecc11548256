/**
 * The JetStream storage layout shared by every face of jetq (library, scheduler, HTTP gateway,
 * outbox). Every stream, bucket and subject name is built here and nowhere else; docs/storage.md
 * describes the same layout for operators.
 */

/** Prefix of every subject jetq publishes to. */
export const SUBJECT_PREFIX = "jetq";

/** Stream holding the latest record of every task, one subject per task id (`max_msgs_per_subject: 1`). */
export const TASKS_STREAM = "JETQ_TASKS";
/** Wildcard bound to {@link TASKS_STREAM}. */
export const TASKS_SUBJECTS = `${SUBJECT_PREFIX}.task.*`;
/** Subject of one task's record. */
export const taskSubject = (id: string): string => `${SUBJECT_PREFIX}.task.${id}`;

/** Prefix of work queue stream names; the queue name follows. */
export const QUEUE_STREAM_PREFIX = "JETQ_Q_";
/** Stream name of a work queue. */
export const queueStream = (queue: string): string => `${QUEUE_STREAM_PREFIX}${queue}`;
/** Wildcard bound to a queue's stream: `jetq.q.<queue>.<priority>.<task id>`. */
export const queueSubjects = (queue: string): string => `${SUBJECT_PREFIX}.q.${queue}.*.*`;
/**
 * Subject of one work item. The priority token is a single digit; the default level is
 * {@link DEFAULT_PRIORITY}.
 */
export const workSubject = (queue: string, id: string, priority = DEFAULT_PRIORITY): string =>
  `${SUBJECT_PREFIX}.q.${queue}.${priority}.${id}`;
/** Matches a task's work item in its queue at any priority (for direct get and purge). */
export const workSubjectAnyPriority = (queue: string, id: string): string => `${SUBJECT_PREFIX}.q.${queue}.*.${id}`;
/** Priority level used when a task sets none. */
export const DEFAULT_PRIORITY = 5;
/** Priority levels: 0 (most urgent) to `PRIORITY_LEVELS - 1`. */
export const PRIORITY_LEVELS = 10;
/** Work items of one priority level of a queue. */
export const levelSubjects = (queue: string, level: number): string => `${SUBJECT_PREFIX}.q.${queue}.${level}.*`;
/**
 * Durable pull consumer of one priority level of a queue, shared by all its workers and gateways.
 * Work-queue streams allow no overlapping consumers, so each level has its own.
 */
export const levelConsumer = (level: number): string => `WORKERS_P${level}`;

const LEVEL_OF = new Map(Array.from({ length: PRIORITY_LEVELS }, (_, l) => [levelConsumer(l), l]));

/** The priority level whose consumer has this name; undefined for any other consumer. */
export const levelOfConsumer = (name: string): number | undefined => LEVEL_OF.get(name);
/**
 * The queue and priority level of a work subject, or undefined for any other subject.
 */
export function parseWorkSubject(subject: string): { queue: string; level: number } | undefined {
  const t = subject.split(".");
  if (t.length !== 5 || t[0] !== SUBJECT_PREFIX || t[1] !== "q" || !/^\d$/.test(t[3]!)) return undefined;
  return { queue: t[2]!, level: Number(t[3]) };
}
/**
 * Core NATS subject telling a queue's consumers that work arrived at a priority level other than the
 * default (`jetq.sig.<queue>.<level>`, empty body), so they start pulling that level at once.
 * Publishers of work items send it; consumers also look at the level consumers every second.
 */
export const levelSignalSubject = (queue: string, level: number): string => `${SUBJECT_PREFIX}.sig.${queue}.${level}`;
/** Wildcard for {@link levelSignalSubject} of one queue. */
export const levelSignalWildcard = (queue: string): string => `${SUBJECT_PREFIX}.sig.${queue}.*`;
/** The single all-levels consumer of the first layout; replaced by the level consumers when found. */
export const LEGACY_WORKER_CONSUMER = "WORKERS";

/** Prefix of dead-letter stream names; the queue name follows. */
export const DEAD_LETTER_STREAM_PREFIX = "JETQ_DLQ_";
/** Stream of a queue's dead letters (tasks that failed for good), one message per task. */
export const deadLetterStream = (queue: string): string => `${DEAD_LETTER_STREAM_PREFIX}${queue}`;
/** Wildcard bound to a queue's dead-letter stream. */
export const deadLetterSubjects = (queue: string): string => `${SUBJECT_PREFIX}.dlq.${queue}.*`;
/** Subject of one dead letter. */
export const deadLetterSubject = (queue: string, id: string): string => `${SUBJECT_PREFIX}.dlq.${queue}.${id}`;
/** Header of a dead letter: why the task failed for good (`expired` or `terminated`). */
export const DEAD_LETTER_REASON_HEADER = "Jetq-Dlq-Reason";
/** Header of a dead letter: when the task failed for good, epoch ms. */
export const DEAD_LETTER_AT_HEADER = "Jetq-Dlq-At";
/**
 * De-duplication id of the work item that redrives the dead letter at stream sequence `seq`: a
 * repeated redrive of the same entry (e.g. after a crash before the entry was deleted) is stored once.
 */
export const redriveMsgId = (taskId: string, seq: number): string => `${taskId}:dlq:${seq}`;

/** Stream of the log lines handlers append to their tasks. */
export const TASK_LOGS_STREAM = "JETQ_TASK_LOGS";
/** Wildcard bound to {@link TASK_LOGS_STREAM}. */
export const TASK_LOGS_SUBJECTS = `${SUBJECT_PREFIX}.log.*`;
/** Subject of one task's log lines. */
export const taskLogSubject = (id: string): string => `${SUBJECT_PREFIX}.log.${id}`;

/** KV bucket with configuration: queue definitions (`queue.<name>`) and later controls. */
export const CONFIG_BUCKET = "JETQ_CONFIG";
/** KV key of a queue definition. */
export const queueConfigKey = (queue: string): string => `queue.${queue}`;
/** KV key of a queue's runtime controls (pause, rate limit, hold), in {@link CONFIG_BUCKET}. */
export const queueControlsKey = (queue: string): string => `controls.${queue}`;

/** KV bucket of rate-limit state: key = queue name, value = the limiter's theoretical arrival time. */
export const RATE_BUCKET = "JETQ_RATE";
/** KV bucket of cancellation requests: key = task id. */
export const CANCELS_BUCKET = "JETQ_CANCELS";
/** How long a cancellation request is remembered (the bucket's max age). */
export const CANCEL_REQUEST_TTL_MS = 7 * 24 * 3_600_000;
/** KV bucket of leader elections: key = component (`scheduler`, `task-scheduler`), value = the leader's name. */
export const ELECTIONS_BUCKET = "JETQ_ELECTIONS";
/** Lifetime of a leader's claim in the elections bucket, unless its first user asks otherwise (ms). */
export const DEFAULT_ELECTION_TTL_MS = 3000;
/** Components that run once per NATS, on an elected instance (their keys in the elections bucket). */
export const ELECTED_COMPONENTS = ["scheduler", "task-scheduler"] as const;
/** Longest idempotency window (and the dedupe bucket's max age): 7 days. */
export const MAX_DEDUPE_WINDOW_MS = 7 * 86_400_000;
/** KV bucket of idempotency keys: key `<queue>.<key hash>`. */
export const DEDUPE_BUCKET = "JETQ_DEDUPE";
/** Prefix of the schedule ids of delayed tasks; the task id follows. */
const DELAYED_TASK_SCHEDULE_PREFIX = "jetq-task-";
/** Schedule id (in the scheduler's stream) of a delayed task. */
export const delayedTaskScheduleId = (taskId: string): string => `${DELAYED_TASK_SCHEDULE_PREFIX}${taskId}`;
/** The task id of a delayed task's schedule id, or undefined for any other schedule. */
export const delayedTaskIdOf = (scheduleId: string): string | undefined =>
  scheduleId.startsWith(DELAYED_TASK_SCHEDULE_PREFIX)
    ? scheduleId.slice(DELAYED_TASK_SCHEDULE_PREFIX.length)
    : undefined;

/**
 * Subject of a task state change event: `jetq.ev.task.<queue>.<step|final>.<state>`. Every
 * transition publishes one event; those into a final state carry `final`, so subscribers can take
 * all transitions (`jetq.ev.task.<queue>.*.*`) or only outcomes (`jetq.ev.task.<queue>.final.*`).
 */
export const taskEventSubject = (queue: string, state: string, final: boolean): string =>
  `${SUBJECT_PREFIX}.ev.task.${queue}.${final ? "final" : "step"}.${state}`;
/** Subject of a running task's progress or log-line event: `jetq.ev.<progress|log>.<queue>`. */
export const taskInfoEventSubject = (kind: "progress" | "log", queue: string): string =>
  `${SUBJECT_PREFIX}.ev.${kind}.${queue}`;
/** Subject of a queue event (pause, resume, hold, dead letter, redrive, de-duplication): `jetq.ev.queue.<queue>.<action>`. */
export const queueEventSubject = (queue: string, action: string): string =>
  `${SUBJECT_PREFIX}.ev.queue.${queue}.${action}`;
/** Wildcards for every event of one queue (or all, `"*"`): task states, progress, logs, queue events. */
export const allEventWildcards = (queue = "*"): string[] => [
  taskEventWildcard(queue),
  taskInfoEventSubject("progress", queue),
  taskInfoEventSubject("log", queue),
  `${SUBJECT_PREFIX}.ev.queue.${queue}.*`,
];
/** Wildcard for task events of one queue (or all, `"*"`), optionally only final outcomes. */
export const taskEventWildcard = (queue = "*", finalOnly = false): string =>
  `${SUBJECT_PREFIX}.ev.task.${queue}.${finalOnly ? "final" : "*"}.*`;

/** De-duplication id of the `new` record written with a work item whose de-duplication id is `msgId`. */
export const recordMsgId = (msgId: string): string => `${msgId}:record`;

/** Header carrying a message de-duplication id (JetStream's own). */
export const MSG_ID_HEADER = "Nats-Msg-Id";

/**
 * Headers of every task record (not of tombstones): queue, state and type, so that tools and
 * indexes can follow `JETQ_TASKS` headers-only, without reading task bodies.
 */
export const RECORD_HEADERS = { queue: "Jetq-Queue", state: "Jetq-State", type: "Jetq-Type" } as const;
/**
 * Header of a tombstone (a discarded finished task) besides `Jetq-State` (its final state): the
 * task's run (see `Task.run`), when not 0.
 */
export const TOMBSTONE_RUN_HEADER = "Jetq-Run";

/**
 * Stream in which earlier versions kept every final-outcome event for the dependency resolver (a
 * JetStream write per finished task); removed by the current resolver.
 */
export const LEGACY_FINAL_EVENTS_STREAM = "JETQ_FINAL_EVENTS";
/** KV bucket of blocked tasks by dependency: key = the dependency's id (`:` as `/`), value `{"dependants": [{id, queue}]}`. */
export const DEPENDENCIES_BUCKET = "JETQ_DEPENDENCIES";

/** Prefix of heartbeat subjects: `jetq.hb.worker.<instance>` and `jetq.hb.serve.<instance>` (core NATS). */
export const HEARTBEAT_PREFIX = `${SUBJECT_PREFIX}.hb`;
/** Subject a running worker process announces itself on every few seconds. */
export const workerHeartbeatSubject = (instance: string): string => `${HEARTBEAT_PREFIX}.worker.${instance}`;
/** Subject a `jetq serve` instance announces itself (version, roles) on every few seconds. */
export const serveHeartbeatSubject = (instance: string): string => `${HEARTBEAT_PREFIX}.serve.${instance}`;
/** Wildcard of every heartbeat. */
export const HEARTBEAT_WILDCARD = `${HEARTBEAT_PREFIX}.>`;
