/**
 * Listing tasks by queue, state and type. `jetq serve` answers the request API
 * `jetq.api.tasks.list` from its index; without a service on the NATS, the task records are
 * scanned instead (every record read: slow on large stores, fine for a few thousand).
 */
import { DeliverPolicy } from "@nats-io/jetstream";
import { JetqError, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { isNoResponders } from "../nats/no-responders.js";
import { isNotFound, wrapStorage } from "../nats/streams.js";
import { validateId, validateQueueName, validateTaskType } from "./names.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { TASKS_STREAM } from "./storage/layout.js";
import { decodeTask } from "./storage/task-codec.js";
import { type Task, TaskState } from "./task.js";

/** Subject of the task-listing request API of `jetq serve`. */
export const TASKS_LIST_API = "jetq.api.tasks.list";

/** Most tasks one page holds. */
export const MAX_TASK_PAGE = 1000;

/** Which tasks {@link listTasks} returns; every field narrows the listing. */
export interface TaskListQuery {
  queue?: string;
  state?: TaskState;
  type?: string;
  /** One task by id. */
  id?: string;
  /** Tasks per page, 1-{@link MAX_TASK_PAGE}. @defaultValue 100 */
  limit?: number;
  /** A previous page's `nextCursor`. @defaultValue the first page */
  cursor?: string;
}

/** One page of {@link listTasks}. */
export interface TaskListPage {
  tasks: Task[];
  /** Present when more may follow: pass it as `cursor`. */
  nextCursor?: string;
  /** Who answered: `jetq serve`'s request API, or a scan of the task records. */
  source: "api" | "scan";
}

/** Options of {@link listTasks}. */
export interface TaskListOptions {
  /** Told once when the request API did not answer and the records are scanned. */
  log?: Logger;
  /** How long to wait for the request API. @defaultValue 5000 ms */
  timeoutMs?: number;
}

const STATES = new Set<string>(Object.values(TaskState));

/** Checks a query's fields. @throws ValidationError (`invalid_state`, `invalid_limit`, `invalid_cursor`, names) */
function checkQuery(q: TaskListQuery): Required<Pick<TaskListQuery, "limit">> & TaskListQuery {
  if (q.queue !== undefined) validateQueueName(q.queue);
  if (q.type !== undefined) validateTaskType(q.type);
  if (q.id !== undefined) validateId(q.id);
  if (q.state !== undefined && !STATES.has(q.state))
    throw new ValidationError("invalid_state", `unknown task state ${JSON.stringify(q.state)}`);
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TASK_PAGE)
    throw new ValidationError("invalid_limit", `limit must be an integer 1-${MAX_TASK_PAGE}, got ${limit}`);
  return { ...q, limit };
}

const matches = (t: Task, q: TaskListQuery) =>
  (q.queue === undefined || t.queue === q.queue) &&
  (q.state === undefined || t.state === q.state) &&
  (q.type === undefined || t.type === q.type) &&
  (q.id === undefined || t.id === q.id);

/**
 * A page of tasks matching `query`, from `jetq serve`'s request API when one answers, else from a
 * scan of the task records (oldest record first; `opts.log` is told once).
 * @throws ValidationError for a malformed query, JetqError with the API's code when it refused, StorageError
 */
export async function listTasks(
  storage: JetStreamStorage,
  query: TaskListQuery,
  opts: TaskListOptions = {},
): Promise<TaskListPage> {
  const q = checkQuery(query);
  let reply: Uint8Array;
  try {
    const m = await storage.nc.request(TASKS_LIST_API, JSON.stringify(q), { timeout: opts.timeoutMs ?? 5000 });
    reply = m.data;
  } catch (err) {
    if (!isNoResponders(err)) throw wrapStorage(err, "listing tasks");
    opts.log?.warn(
      `no jetq serve answers ${TASKS_LIST_API}: scanning every task record instead (slow on large stores)`,
    );
    return scanTasks(storage, q);
  }
  return parseReply(reply);
}

/** Reads the request API's answer: `{tasks: [wire form], next_cursor?}` or `{error: {code, message}}`. */
function parseReply(data: Uint8Array): TaskListPage {
  let body: { tasks?: unknown; next_cursor?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    body = JSON.parse(Buffer.from(data).toString("utf8"));
  } catch {
    throw new JetqError("invalid_reply", `${TASKS_LIST_API} answered with something that is not JSON`);
  }
  if (body.error) {
    throw new JetqError(
      typeof body.error.code === "string" ? body.error.code : "api_error",
      typeof body.error.message === "string" ? body.error.message : `${TASKS_LIST_API} refused the request`,
    );
  }
  if (!Array.isArray(body.tasks)) throw new JetqError("invalid_reply", `${TASKS_LIST_API} answered without tasks`);
  const tasks = body.tasks.map((t) => decodeTask(Buffer.from(JSON.stringify(t))));
  return {
    tasks,
    ...(typeof body.next_cursor === "string" && body.next_cursor !== "" ? { nextCursor: body.next_cursor } : {}),
    source: "api",
  };
}

/**
 * Scans the task records after the stream sequence in `cursor`, keeping those that match, until a
 * page is full or the records end. A record rewritten between pages (its task changed state) may
 * show on a later page again.
 */
export async function scanTasks(
  storage: JetStreamStorage,
  query: TaskListQuery & { limit: number },
): Promise<TaskListPage> {
  if (query.id !== undefined) {
    const rec = await storage.loadRecord(query.id);
    return { tasks: rec && matches(rec, query) ? [rec] : [], source: "scan" };
  }
  const after = query.cursor === undefined ? 0 : Number(query.cursor);
  if (!Number.isSafeInteger(after) || after < 0)
    throw new ValidationError("invalid_cursor", "cursor must come from a previous page");
  const tasks: Task[] = [];
  try {
    const info = await storage.jsm.streams.info(TASKS_STREAM).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!info) return { tasks, source: "scan" };
    const { state } = info;
    if (state.messages === 0 || after >= state.last_seq) return { tasks, source: "scan" };
    const consumer = await storage.js.consumers.get(TASKS_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(after + 1, state.first_seq),
    });
    const messages = await consumer.consume();
    try {
      for await (const m of messages) {
        if (m.data.byteLength > 0) {
          try {
            const task = decodeTask(m.data);
            if (matches(task, query)) tasks.push(task);
          } catch {
            // a corrupt record: loadTask reports it
          }
        }
        const more = m.info.pending > 0 && m.seq < state.last_seq;
        if (tasks.length === query.limit)
          return { tasks, ...(more ? { nextCursor: String(m.seq) } : {}), source: "scan" };
        if (!more) break;
      }
    } finally {
      await messages.close();
    }
  } catch (err) {
    throw wrapStorage(err, "scanning task records");
  }
  return { tasks, source: "scan" };
}
