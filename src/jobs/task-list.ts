import { JetqError, NotFoundError, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { isNoResponders } from "../nats/no-responders.js";
import { wrapStorage } from "../nats/streams.js";
import { validateId, validateQueueName, validateTaskType } from "./names.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
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
 * scan (`opts.log` is told once): the waiting tasks of each queue newest first (they have no record
 * yet), then the task records oldest first.
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
    reply = await storage.bus.request(TASKS_LIST_API, JSON.stringify(q), opts.timeoutMs ?? 5000);
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
 * Scans for tasks without `jetq serve`'s index: first the tasks waiting in their queues (they have
 * no record yet: newest first, like the index), then the task records after the stream sequence in
 * the cursor, keeping those that match, until a page is full. A cursor is `w<queue index>:<seq>`
 * while in the queues, `r<seq>` in the records. A record rewritten between pages (its task changed
 * state) may show on a later page again.
 */
export async function scanTasks(
  storage: JetStreamStorage,
  query: TaskListQuery & { limit: number },
): Promise<TaskListPage> {
  if (query.id !== undefined) {
    const rec = await storage.loadTask(query.id, query.queue).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    return { tasks: rec && matches(rec, query) ? [rec] : [], source: "scan" };
  }
  const cursor = query.cursor ?? "w0:";
  const m = /^(?:w(\d{1,9}):(\d{0,15})|r(\d{1,15}))$/.exec(cursor);
  if (!m) throw new ValidationError("invalid_cursor", "cursor must come from a previous page");
  const tasks: Task[] = [];
  if (m[1] !== undefined && (query.state === undefined || query.state === TaskState.New)) {
    const queues = query.queue !== undefined ? [query.queue] : await storage.queueNames();
    for (
      let qi = Number(m[1]), before = m[2] ? Number(m[2]) : undefined;
      qi < queues.length;
      qi++, before = undefined
    ) {
      for (;;) {
        const page = await storage
          .waitingTasks(queues[qi]!, {
            limit: query.limit - tasks.length,
            ...(before !== undefined ? { beforeSeq: before } : {}),
            ...(query.type !== undefined ? { type: query.type } : {}),
          })
          .catch((err: unknown) => {
            if (err instanceof NotFoundError) return { tasks: [] } as { tasks: Task[]; nextSeq?: number };
            throw err;
          });
        for (const task of page.tasks) if (matches(task, query)) tasks.push(task);
        if (page.nextSeq === undefined) break;
        before = page.nextSeq;
        if (tasks.length >= query.limit) return { tasks, nextCursor: `w${qi}:${before}`, source: "scan" };
      }
      if (tasks.length >= query.limit) return { tasks, nextCursor: `w${qi + 1}:`, source: "scan" };
    }
  }
  const records = await scanRecords(storage, query, tasks, m[3] === undefined ? 0 : Number(m[3]));
  return { tasks, ...(records.next !== undefined ? { nextCursor: `r${records.next}` } : {}), source: "scan" };
}

/** Adds the matching records after stream sequence `after` to `tasks` until the page is full. */
async function scanRecords(
  storage: JetStreamStorage,
  query: TaskListQuery & { limit: number },
  tasks: Task[],
  after: number,
): Promise<{ next?: number }> {
  if (tasks.length >= query.limit) return {};
  for await (const { seq, task, more } of storage.recordsAfter(after)) {
    if (matches(task, query)) tasks.push(task);
    if (tasks.length === query.limit) return more ? { next: seq } : {};
  }
  return {};
}
