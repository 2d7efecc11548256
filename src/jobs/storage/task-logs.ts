import type { StorageType } from "@nats-io/jetstream";
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, RetentionPolicy } from "@nats-io/jetstream";
import type { AckedPublisher } from "../../nats/acked-publisher.js";
import { ensureStream, isNotFound, wrapStorage } from "../../nats/streams.js";
import { TASK_LOGS_STREAM, TASK_LOGS_SUBJECTS, taskLogSubject } from "./layout.js";

/** One line a handler appended to its task's log. */
export interface TaskLogLine {
  /** When it was appended, epoch ms. */
  at: number;
  /** The text (at most {@link MAX_LOG_LINE_BYTES} bytes; longer lines are cut). */
  line: string;
}

/** Longest stored log line, bytes; longer lines are cut and end with `…`. */
export const MAX_LOG_LINE_BYTES = 4096;
/** Lines kept per task; older lines are dropped first. */
export const MAX_LOG_LINES_PER_TASK = 1000;

/** What {@link TaskLogs} needs from storage. */
export interface TaskLogsParams {
  js: JetStreamClient;
  jsm: JetStreamManager;
  acks: AckedPublisher;
  storage: StorageType;
  replicas: number;
  /** How long lines are kept (ms); 0 = like task records, until deleted. */
  retentionMs: number;
}

/** Cuts a line to {@link MAX_LOG_LINE_BYTES} bytes (on a character boundary). */
export function clampLine(line: string): string {
  if (Buffer.byteLength(line) <= MAX_LOG_LINE_BYTES) return line;
  let cut = Buffer.from(line)
    .subarray(0, MAX_LOG_LINE_BYTES - 3)
    .toString("utf8");
  // A multi-byte character split by the cut decodes to U+FFFD: drop it.
  if (cut.endsWith("\uFFFD")) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * Task log lines: stream `JETQ_TASK_LOGS`, one subject per task (`jetq.log.<id>`), at most
 * {@link MAX_LOG_LINES_PER_TASK} lines per task. Created on first use.
 */
export class TaskLogs {
  private ready?: Promise<unknown>;

  constructor(private readonly p: TaskLogsParams) {}

  private ensure(): Promise<unknown> {
    this.ready ??= ensureStream(this.p.jsm, {
      name: TASK_LOGS_STREAM,
      subjects: [TASK_LOGS_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: MAX_LOG_LINES_PER_TASK,
      max_age: this.p.retentionMs * 1_000_000,
      storage: this.p.storage,
      num_replicas: this.p.replicas,
    }).catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Appends a line to a task's log; resolves once stored. Returns the line as stored. */
  async append(taskId: string, line: string): Promise<string> {
    await this.ensure();
    const stored = clampLine(line);
    try {
      await this.p.acks.publish(taskLogSubject(taskId), Buffer.from(stored));
    } catch (err) {
      throw wrapStorage(err, `appending to the log of task ${taskId}`);
    }
    return stored;
  }

  /** Removes a task's log lines (nothing to do when it has none). */
  async remove(taskId: string): Promise<void> {
    try {
      await this.p.jsm.streams.purge(TASK_LOGS_STREAM, { filter: taskLogSubject(taskId) });
    } catch (err) {
      if (!isNotFound(err)) throw wrapStorage(err, `removing the log of task ${taskId}`);
    }
  }

  /** A task's log lines, oldest first (empty when it has none). */
  async read(taskId: string): Promise<TaskLogLine[]> {
    await this.ensure();
    const lines: TaskLogLine[] = [];
    try {
      const consumer = await this.p.js.consumers.get(TASK_LOGS_STREAM, {
        filter_subjects: taskLogSubject(taskId),
        deliver_policy: DeliverPolicy.All,
      });
      const info = await consumer.info(true);
      if (info.num_pending === 0) return lines;
      const messages = await consumer.consume();
      for await (const m of messages) {
        lines.push({ at: m.time.getTime(), line: m.string() });
        if (m.info.pending === 0) break;
      }
      await messages.close();
    } catch (err) {
      throw wrapStorage(err, `reading the log of task ${taskId}`);
    }
    return lines;
  }
}
