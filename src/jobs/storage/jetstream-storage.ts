import {
  AckPolicy,
  type Consumer,
  type ConsumerInfo,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { nuid } from "@nats-io/nuid";
import { NotFoundError, StorageError, ValidationError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { AckedPublisher } from "../../nats/acked-publisher.js";
import { openBucket } from "../../nats/buckets.js";
import { type DirectMessage, DirectReader } from "../../nats/direct-reader.js";
import { currentLeader } from "../../nats/leader-election.js";
import { type ServerFeatures, serverFeatures } from "../../nats/server-features.js";
import { createStreamIfMissing, ensureStream, isNotFound, wrapStorage } from "../../nats/streams.js";
import { sleepUntil } from "../../timers.js";
import { encodeLogEvent, encodeProgressEvent, encodeQueueEvent, encodeTaskEvent, type QueueAction } from "../events.js";
import { validateId, validateQueueName } from "../names.js";
import { ackWaitMs, type QueueConfig, type ResolvedQueue, resolveQueue } from "../queue.js";
import { isFinalState, type Task, type TaskState } from "../task.js";
import type { TaskObserver } from "../task-observer.js";
import { Bus } from "./bus.js";
import { deadLetterState, deleteDeadLetterStream, ensureDeadLetterStream } from "./dead-letter-store.js";
import { registerHandles } from "./handles.js";
import {
  CANCEL_REQUEST_TTL_MS,
  CANCELS_BUCKET,
  CONFIG_BUCKET,
  DEDUPE_BUCKET,
  DEFAULT_ELECTION_TTL_MS,
  DEFAULT_PRIORITY,
  DEPENDENCIES_BUCKET,
  ELECTIONS_BUCKET,
  LEGACY_FINAL_EVENTS_STREAM,
  LEGACY_WORKER_CONSUMER,
  levelConsumer,
  levelOfConsumer,
  levelSignalSubject,
  levelSubjects,
  MAX_DEDUPE_WINDOW_MS,
  MSG_ID_HEADER,
  PRIORITY_LEVELS,
  parseWorkSubject,
  QUEUE_STREAM_PREFIX,
  queueConfigKey,
  queueControlsKey,
  queueEventSubject,
  queueStream,
  queueSubjects,
  RATE_BUCKET,
  RECORD_HEADERS,
  TASKS_STREAM,
  TASKS_SUBJECTS,
  TOMBSTONE_RUN_HEADER,
  taskEventSubject,
  taskInfoEventSubject,
  taskSubject,
  workSubject,
  workSubjectAnyPriority,
} from "./layout.js";
import { type QueueControls, QueueControlsStore } from "./queue-controls-store.js";
import { ScheduleStore } from "./schedule-store.js";
import { decodeTask, encodeTask, recordHeaders, sharedRecordHeaders } from "./task-codec.js";
import { TaskLogs } from "./task-logs.js";

/** How streams are created; used only when a stream does not exist yet. */
export interface StorageOptions {
  /** Keep tasks and queues in memory instead of files. @defaultValue false */
  memory?: boolean;
  /** Stream replicas (1, 3 or 5 on a cluster). @defaultValue 1 */
  replicas?: number;
  /** How long task records are kept (ms); 0 = until deleted. @defaultValue 0 */
  taskRetentionMs?: number;
  /** JetStream de-duplication window for enqueues (ms). @defaultValue 120_000 */
  duplicateWindowMs?: number;
  /**
   * Which task events this process publishes: every transition, only final outcomes (what
   * dependencies and most consumers need), or none. Events are a large share of a worker's CPU per
   * task. @defaultValue `"all"`
   */
  events?: "all" | "final" | "none";
  /**
   * `"floor"`: use only what nats-server 2.9 offers even on a newer server (while a cluster is
   * being upgraded node by node, see docs/storage.md). @defaultValue `"auto"` (from the server's version)
   */
  serverFeatures?: "auto" | "floor";
}

/** Live numbers of a queue. */
export interface QueueInfo {
  name: string;
  config: ResolvedQueue;
  /** Items waiting or in flight. */
  depth: number;
  /** Items handed to workers and not yet acknowledged. */
  inFlight: number;
  /** Items not yet delivered to any worker. */
  pending: number;
  /** Items not yet delivered, by priority level (index 0 = most urgent). */
  pendingByPriority: number[];
  /** Entries in the queue's dead-letter store. */
  deadLetters: number;
  /** Raw JetStream stream info. */
  stream: StreamInfo;
  /** Raw JetStream info of the priority-level consumers that exist. */
  consumers: ConsumerInfo[];
  /** Runtime controls: paused, rate limit, hold. */
  controls: QueueControls;
}

/**
 * What the task store holds for a task id: nothing, a tombstone (the task finished and its record
 * was discarded; `run` is the run that finished), or its latest record.
 */
export type StoredRecord =
  | { kind: "none" }
  | { kind: "discarded"; run: number; state: TaskState | undefined; seq: number }
  | { kind: "task"; task: Task; seq: number };

/**
 * True when a delivery of run `run` of a task must not run: its record is final for that run or a
 * later one (a redelivery after a crash, a replayed work item), or belongs to a later run.
 */
export function deliveryIsStale(rec: StoredRecord, run: number): boolean {
  if (rec.kind === "none") return false;
  if (rec.kind === "discarded") return rec.run >= run;
  const recRun = rec.task.run ?? 0;
  return recRun > run || (recRun === run && isFinalState(rec.task.state));
}

/** What {@link storedRecord} says of a task with no record (one object for all: most have none). */
const NO_RECORD: StoredRecord = Object.freeze({ kind: "none" });

/** The {@link StoredRecord} a direct get of a task's record found. */
function storedRecord(m: DirectMessage | undefined): StoredRecord {
  if (!m) return NO_RECORD;
  if (m.data.byteLength === 0) {
    const state = m.headers?.get(RECORD_HEADERS.state);
    return {
      kind: "discarded",
      run: Number(m.headers?.get(TOMBSTONE_RUN_HEADER) || 0),
      state: state ? (state as TaskState) : undefined,
      seq: m.seq,
    };
  }
  return { kind: "task", task: decodeTask(m.data), seq: m.seq };
}

/** What {@link JetStreamStorage.waitingTasks} lists. */
export interface WaitingQuery {
  /** Continue below this stream sequence (a previous page's `nextSeq`). */
  beforeSeq?: number;
  limit: number;
  /** Only tasks of this type. */
  type?: string;
  /** Work items read at most for one page. @defaultValue no limit */
  scanLimit?: number;
}

/** A page of waiting tasks, newest first. */
export interface WaitingPage {
  tasks: Task[];
  /** Present when more may follow: pass it as `beforeSeq`. */
  nextSeq?: number;
}

/** Summary of the task store. */
export interface TasksInfo {
  /** Task records stored. */
  records: number;
  /** Bytes used. */
  bytes: number;
  stream: StreamInfo;
}

const ns = (ms: number) => ms * 1_000_000;

/** The KV buckets a storage opens on demand (docs/storage.md). */
export type BucketKind = "config" | "cancels" | "rates" | "dedupe" | "dependants" | "elections";

const BUCKETS: Record<BucketKind, { name: string; ttl?: number }> = {
  config: { name: CONFIG_BUCKET },
  cancels: { name: CANCELS_BUCKET, ttl: CANCEL_REQUEST_TTL_MS },
  rates: { name: RATE_BUCKET },
  dedupe: { name: DEDUPE_BUCKET, ttl: MAX_DEDUPE_WINDOW_MS },
  dependants: { name: DEPENDENCIES_BUCKET },
  elections: { name: ELECTIONS_BUCKET },
};

/** JetStream's header making a publish conditional on the subject's last stored sequence. */
const EXPECTED_LAST_SUBJECT_SEQ_HEADER = "Nats-Expected-Last-Subject-Sequence";

/**
 * How long an unanswered enqueue is sent again, ms: a replicated stream whose leader's node went
 * away answers nothing until its election ends, 4-9 s on nats-server 2.9 to 2.14.
 */
export const ENQUEUE_RETRY_MS = 15_000;

/** Most work items in one atomic batch enqueue (JetStream's limit is 1,000). */
export const MAX_ENQUEUE_BATCH = 500;

/** "Until further notice" for a paused consumer (a resume ends it). */
const PAUSED_UNTIL = new Date(Date.UTC(9999, 0, 1));

/** Queues whose streams are searched at once for a task without a record. */
const LOOKUP_CONCURRENCY = 32;

/**
 * The JetStream side of jetq: creates streams, writes task records and work items, reads them back.
 * One instance per connection; see docs/storage.md for the layout it maintains.
 */
export class JetStreamStorage {
  private readonly js: JetStreamClient;
  /**
   * Pipelined, acknowledged publishes, held while the last flush is unanswered (work items, dead
   * letters, schedules, logs).
   */
  private readonly acks: AckedPublisher;
  /**
   * Pipelined, acknowledged writes of task records, coalesced only within a turn of the event loop:
   * a try's outcome holds a slot of its queue's `maxConcurrent` until it is stored, and holding it
   * for the answers of the writes before it cost a worker's drain about a tenth of its rate (the
   * outcome took 3.2–4.0 ms so, 2.1–2.3 ms sent at once), while HTTP acks, each from its own
   * request, still share writes. One publisher for every record write keeps a task's records in
   * the order they were made.
   */
  private readonly records: AckedPublisher;
  /** Direct gets (task records, work items) without nats.js' per-request machinery. */
  private readonly reader: DirectReader;
  /** What the connected server can do beyond the 2.9 floor. */
  readonly features: ServerFeatures;
  private readonly buckets = new Map<BucketKind, Promise<KV>>();
  private controlsStore?: Promise<QueueControlsStore>;
  private scheduleStore?: Promise<ScheduleStore>;
  /** Queues whose streams take atomic batches (see {@link enqueueBatch}). */
  private readonly batchQueues = new Map<string, Promise<boolean>>();
  /** The elections bucket, to read who leads (see {@link leader}). */
  private electionsReader?: Promise<KV>;
  /** Core NATS messaging on this storage's connection (events, signals, heartbeats, request APIs). */
  readonly bus: Bus;
  private readonly queues = new Map<string, ResolvedQueue>();
  /** Level consumers known to exist (or being made), by queue and level. */
  private readonly levels = new Map<string, Map<number, Promise<void>>>();
  /** Queues already brought to the current layout by this storage. */
  private readonly upgraded = new Set<string>();
  private readonly upgrading = new Map<string, Promise<void>>();
  private taskLogs?: TaskLogs;
  /** Told about queue events published through this storage (set by the client, e.g. metrics). */
  observer?: TaskObserver;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly opts: Required<StorageOptions>,
    private readonly log: Logger,
  ) {
    this.js = jetstream(nc);
    this.bus = new Bus(nc);
    this.acks = new AckedPublisher(nc);
    this.records = new AckedPublisher(nc, { coalesce: "turn" });
    this.features = serverFeatures(nc, opts.serverFeatures === "floor");
    this.reader = new DirectReader(nc, this.features.batchDirectGet);
    registerHandles(this, {
      nc,
      js: this.js,
      jsm,
      acks: this.acks,
      reader: this.reader,
      features: this.features,
      streamPlacement: this.streamPlacement,
      bucketPlacement: this.bucketPlacement,
      log,
    });
  }

  /** Releases the acknowledgement and read subscriptions (the connection stays open). */
  close(): void {
    this.acks.close();
    this.records.close();
    this.reader.close();
  }

  /** Opens storage on a connection (checks JetStream is enabled). */
  static async open(nc: NatsConnection, opts: StorageOptions, log: Logger): Promise<JetStreamStorage> {
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc);
    } catch (err) {
      throw new StorageError("jetstream_unavailable", `JetStream is not available: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new JetStreamStorage(
      nc,
      jsm,
      {
        memory: opts.memory ?? false,
        replicas: opts.replicas ?? 1,
        taskRetentionMs: opts.taskRetentionMs ?? 0,
        duplicateWindowMs: opts.duplicateWindowMs ?? 120_000,
        events: opts.events ?? "all",
        serverFeatures: opts.serverFeatures ?? "auto",
      },
      log,
    );
  }

  /** The options this storage creates streams with (defaults filled in). */
  get settings(): Readonly<Required<StorageOptions>> {
    return this.opts;
  }

  private get storage(): StorageType {
    return this.opts.memory ? StorageType.Memory : StorageType.File;
  }

  /** Storage type and replicas that every jetq stream is created with (stream config fields). */
  get streamPlacement(): { storage: StorageType; num_replicas: number } {
    return { storage: this.storage, num_replicas: this.opts.replicas };
  }

  /** Storage type and replicas that every jetq KV bucket is created with (bucket options). */
  get bucketPlacement(): { storage: StorageType; replicas: number } {
    return { storage: this.storage, replicas: this.opts.replicas };
  }

  /** JetStream refuses a de-duplication window longer than the stream's max age. */
  private dedupeWindow(maxAgeMs: number): number {
    return maxAgeMs > 0 ? Math.min(this.opts.duplicateWindowMs, maxAgeMs) : this.opts.duplicateWindowMs;
  }

  /**
   * Creates the task stream, the config bucket and the cancellation bucket (every worker follows
   * it) when missing: made at connect, they exist before a cluster node may be away (a replicated
   * stream cannot be created while too few nodes are up).
   */
  async prepare(): Promise<void> {
    await ensureStream(this.jsm, {
      name: TASKS_STREAM,
      subjects: [TASKS_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 1,
      max_age: ns(this.opts.taskRetentionMs),
      duplicate_window: ns(this.dedupeWindow(this.opts.taskRetentionMs)),
      allow_direct: true,
      storage: this.storage,
      num_replicas: this.opts.replicas,
    });
    await this.configBucket();
    await this.bucket("cancels");
  }

  /**
   * The config bucket (queue definitions `queue.<name>`, controls `controls.<name>`, cron schedules
   * `cron.<name>`), for the stores of those keys.
   */
  async configBucket(): Promise<KV> {
    return this.bucket("config");
  }

  /**
   * One of jetq's KV buckets, opened (created when missing, with this storage's replicas and
   * storage type) once and shared by everything on this storage. `ttlMs` (elections only) is used
   * when the bucket is created. See docs/storage.md for what each holds.
   */
  bucket(kind: BucketKind, opts: { ttlMs?: number } = {}): Promise<KV> {
    let open = this.buckets.get(kind);
    if (!open) {
      const spec = BUCKETS[kind];
      const ttl = kind === "elections" ? (opts.ttlMs ?? DEFAULT_ELECTION_TTL_MS) : spec.ttl;
      open = openBucket(this.nc, spec.name, {
        history: 1,
        ...(ttl ? { ttl } : {}),
        ...this.bucketPlacement,
      });
      this.buckets.set(kind, open);
      open.catch(() => {
        if (this.buckets.get(kind) === open) this.buckets.delete(kind);
      });
    }
    return open;
  }

  /**
   * The candidate leading `component` (`"scheduler"`, `"task-scheduler"`) now, or undefined when
   * none is. Reads the elections bucket without creating it.
   */
  async leader(component: string): Promise<string | undefined> {
    // A bucket this storage opened, else a handle bound without creating it (bound, not checked:
    // a read of a bucket that does not exist fails with "not found").
    this.electionsReader ??=
      this.buckets.get("elections") ?? new Kvm(this.nc).open(ELECTIONS_BUCKET, { bindOnly: true });
    try {
      return await currentLeader(await this.electionsReader, component);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw wrapStorage(err, "reading the elections bucket");
    }
  }

  /**
   * Removes the final-events stream of earlier versions (`JETQ_FINAL_EVENTS`, a write per finished
   * task that dependency checks made unnecessary). Returns whether there was one.
   */
  async dropLegacyFinalEvents(): Promise<boolean> {
    try {
      await this.jsm.streams.delete(LEGACY_FINAL_EVENTS_STREAM);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw wrapStorage(err, `removing stream ${LEGACY_FINAL_EVENTS_STREAM}`);
    }
  }

  /** The schedules of this storage (`JETQ_SCHEDULES`, created when missing), opened once. */
  schedules(): Promise<ScheduleStore> {
    this.scheduleStore ??= ScheduleStore.open(this);
    this.scheduleStore.catch(() => {
      this.scheduleStore = undefined;
    });
    return this.scheduleStore;
  }

  /** The queue controls of this storage (one shared watch of every queue's controls). */
  async controls(): Promise<QueueControlsStore> {
    this.controlsStore ??= this.configBucket().then((kv) => new QueueControlsStore(kv));
    return this.controlsStore;
  }

  /**
   * Creates a queue (stream, default-level consumer, dead-letter stream, stored definition) or binds
   * to the existing one, whose stored definition then wins over `q`. The consumers of the other
   * priority levels are made when a task is first enqueued at their level ({@link ensureLevel}). If
   * creating fails part way, what this call made is removed again, so a later try starts clean
   * instead of finding a queue without a definition.
   * @throws NotFoundError (`queue_not_found`) with `noCreate` when it does not exist;
   * ValidationError (`invalid_queue_config`); StorageError
   */
  async prepareQueue(q: QueueConfig): Promise<ResolvedQueue> {
    const existing = await this.findQueue(q.name);
    if (existing) {
      await this.upgradeOnce(existing);
      return existing;
    }
    if (q.noCreate) throw new NotFoundError("queue_not_found", `queue ${JSON.stringify(q.name)} does not exist`);
    const def = resolveQueue(q);
    const stream = queueStream(def.name);
    let created = false;
    try {
      created = await createStreamIfMissing(this.jsm, {
        name: stream,
        subjects: [queueSubjects(def.name)],
        retention: RetentionPolicy.Workqueue,
        max_age: ns(def.maxAgeMs),
        duplicate_window: ns(this.dedupeWindow(def.maxAgeMs)),
        max_msgs: def.maxEntries > 0 ? def.maxEntries : -1,
        discard: def.discardOld ? DiscardPolicy.Old : DiscardPolicy.New,
        allow_direct: true,
        ...(this.features.atomicBatch ? { allow_atomic: true } : {}),
        ...this.streamPlacement,
      });
      await this.ensureLevel(def, DEFAULT_PRIORITY);
      if (def.deadLetters) await ensureDeadLetterStream(this, def);
      await this.saveQueueDefinition(def);
    } catch (err) {
      if (created && !(await this.findQueue(def.name).catch(() => undefined))) {
        await this.jsm.streams.delete(stream).catch(() => undefined);
        await deleteDeadLetterStream(this, def.name).catch(() => undefined);
        this.levels.delete(def.name);
      }
      throw wrapStorage(err, `creating queue ${def.name}`);
    }
    this.upgraded.add(def.name);
    return def;
  }

  /**
   * Makes sure the consumer of one priority level of a queue exists (once per storage and level):
   * each filters its level and shares the queue's limits, ack wait and `maxConcurrent` as max ack
   * pending. Work-queue streams allow no overlapping consumers, hence one per level; a queue whose
   * tasks all use the default level has one.
   */
  async ensureLevel(queue: ResolvedQueue | string, level: number): Promise<void> {
    const name = typeof queue === "string" ? queue : queue.name;
    let made = this.levels.get(name);
    if (!made) {
      made = new Map();
      this.levels.set(name, made);
    }
    let ready = made.get(level);
    if (!ready) {
      const levels = made;
      ready = (async () => {
        const def = typeof queue === "string" ? await this.getQueue(queue) : queue;
        const stream = queueStream(name);
        try {
          await this.jsm.consumers.info(stream, levelConsumer(level));
        } catch (err) {
          if (!isNotFound(err)) throw wrapStorage(err, `reading a consumer of queue ${name}`);
          await this.jsm.consumers
            .add(stream, {
              durable_name: levelConsumer(level),
              filter_subject: levelSubjects(name, level),
              ack_policy: AckPolicy.Explicit,
              deliver_policy: DeliverPolicy.All,
              ack_wait: ns(ackWaitMs(def)),
              max_ack_pending: def.maxConcurrent,
              max_deliver: -1,
              max_waiting: 4096,
              num_replicas: 0,
            })
            .catch((e: unknown) => {
              // Another process made it first.
              if (!/already (exists|in use)/i.test((e as Error).message))
                throw wrapStorage(e, `creating a consumer of queue ${name}`);
            });
        }
      })();
      levels.set(level, ready);
      ready.catch(() => {
        if (levels.get(level) === ready) levels.delete(level);
      });
    }
    return ready;
  }

  /**
   * Brings an existing queue to the current layout, once per storage: the single consumer of the
   * first layout is replaced by level consumers (its unacknowledged items stay in the stream and
   * are delivered again through them) for the default level and every level that holds items.
   */
  private upgradeOnce(def: ResolvedQueue): Promise<void> {
    let done = this.upgrading.get(def.name);
    if (!done && !this.upgraded.has(def.name)) {
      done = (async () => {
        const stream = queueStream(def.name);
        let legacy = false;
        try {
          for await (const c of this.jsm.consumers.list(stream)) if (c.name === LEGACY_WORKER_CONSUMER) legacy = true;
          if (legacy) {
            this.log.warn("replacing the queue's single worker consumer with priority-level consumers", {
              queue: def.name,
            });
            await this.jsm.consumers.delete(stream, LEGACY_WORKER_CONSUMER);
          }
        } catch (err) {
          throw wrapStorage(err, `listing the consumers of queue ${def.name}`);
        }
        await this.ensureLevel(def, DEFAULT_PRIORITY);
        if (legacy) await this.levelBacklog(def.name);
        this.upgraded.add(def.name);
      })().finally(() => this.upgrading.delete(def.name));
      this.upgrading.set(def.name, done);
    }
    return done ?? Promise.resolve();
  }

  /**
   * Work left per priority level of a queue (pending plus in flight, index = level): from the level
   * consumers, and for a level without one, whether its stream holds items (a task enqueued through
   * an outbox, or before its level's consumer was made) — the consumer is then made.
   */
  async levelBacklog(queue: string): Promise<number[]> {
    const stream = queueStream(queue);
    const backlog = new Array<number>(PRIORITY_LEVELS).fill(0);
    const seen = new Set<number>();
    try {
      for await (const c of this.jsm.consumers.list(stream)) {
        const level = levelOfConsumer(c.name);
        if (level === undefined) continue;
        seen.add(level);
        backlog[level] = c.num_pending + c.num_ack_pending;
      }
      for (let level = 0; level < PRIORITY_LEVELS; level++) {
        if (seen.has(level)) continue;
        const m = await this.reader.get(stream, { seq: 1, next_by_subj: levelSubjects(queue, level) });
        if (!m) continue;
        await this.ensureLevel(queue, level);
        backlog[level] = 1;
      }
    } catch (err) {
      if (isNotFound(err)) return backlog;
      throw wrapStorage(err, `reading the consumers of queue ${queue}`);
    }
    return backlog;
  }

  /**
   * The durable consumer of one priority level of a queue, to pull work from (the level's consumer
   * is made first when missing).
   */
  async workConsumer(queue: ResolvedQueue, level: number): Promise<Consumer> {
    await this.ensureLevel(queue, level);
    return this.js.consumers.get(queueStream(queue.name), levelConsumer(level));
  }

  /**
   * Pauses (or resumes) every level consumer of a queue on servers that can (2.11): nothing is
   * delivered while paused, even to processes that do not watch the queue's controls. On 2.9 the
   * controls alone pause the queue. A failure is logged, not thrown: the controls are what counts.
   */
  async pauseConsumers(queue: string, paused: boolean): Promise<void> {
    if (!this.features.consumerPause) return;
    const stream = queueStream(queue);
    try {
      for await (const c of this.jsm.consumers.list(stream)) {
        if (levelOfConsumer(c.name) === undefined) continue;
        if (paused) await this.jsm.consumers.pause(stream, c.name, PAUSED_UNTIL);
        else await this.jsm.consumers.resume(stream, c.name);
      }
    } catch (err) {
      this.log.warn("could not pause or resume the queue's consumers (its controls still apply)", {
        queue,
        error: (err as Error).message,
      });
    }
  }

  /** The stored definition of a queue, or undefined when the queue does not exist. */
  async findQueue(name: string): Promise<ResolvedQueue | undefined> {
    validateQueueName(name);
    const cached = this.queues.get(name);
    if (cached) return cached;
    const kv = await this.configBucket();
    const entry = await kv.get(queueConfigKey(name));
    if (entry?.operation !== "PUT") return undefined;
    const def = resolveQueue(entry.json<QueueConfig>());
    this.queues.set(name, def);
    return def;
  }

  /** Stores a queue's definition (replacing the stored one) and remembers it in this storage. */
  async saveQueueDefinition(def: ResolvedQueue): Promise<void> {
    const kv = await this.configBucket();
    await kv.put(queueConfigKey(def.name), JSON.stringify(def));
    this.queues.set(def.name, def);
  }

  /** Like {@link findQueue} but throws {@link NotFoundError} (`queue_not_found`). */
  async getQueue(name: string): Promise<ResolvedQueue> {
    const q = await this.findQueue(name);
    if (!q) throw new NotFoundError("queue_not_found", `queue ${JSON.stringify(name)} does not exist`);
    return q;
  }

  /** Replicas of the streams and buckets this storage creates. */
  get replicas(): number {
    return this.opts.replicas;
  }

  /** Largest message the server accepts. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Encodes a task and checks that it fits in one message. @throws ValidationError (`payload_too_large`) */
  encode(task: Task): Uint8Array {
    const data = encodeTask(task);
    // Leave room for headers and the subject.
    if (data.byteLength > this.maxPayload - 1024) {
      throw new ValidationError(
        "payload_too_large",
        `task ${task.id} encodes to ${data.byteLength} bytes; the server accepts at most ${this.maxPayload - 1024}`,
      );
    }
    return data;
  }

  /**
   * Writes a new task's work item and waits for JetStream to store it: the only write of an
   * enqueue (a waiting task has no record; {@link loadTask} finds its work item). `msgId`
   * de-duplicates repeated enqueues. Tasks at a priority other than the default also send their
   * level's signal, so idle consumers start pulling that level at once. A write to a stream without
   * a leader (no answer within the publish timeout, or "no responders" from a stream that exists)
   * is sent again, for up to {@link ENQUEUE_RETRY_MS}.
   * @returns whether JetStream recognised the work item as a duplicate.
   * @throws StorageError `publish_timeout` / `stream_not_found` when the stream answered nothing in
   * that time or does not exist, or as the publish
   */
  async enqueue(task: Task, data: Uint8Array, msgId = task.id): Promise<{ duplicate: boolean }> {
    if (task.priority !== DEFAULT_PRIORITY) await this.ensureLevel(task.queue, task.priority);
    const wh = headers();
    wh.set(MSG_ID_HEADER, msgId);
    const subject = workSubject(task.queue, task.id, task.priority);
    const started = Date.now();
    let published = this.acks.publish(subject, data, wh);
    if (task.priority !== DEFAULT_PRIORITY) this.nc.publish(levelSignalSubject(task.queue, task.priority));
    for (let pause = 250; ; pause = Math.min(2 * pause, 2000)) {
      try {
        const ack = await published;
        return { duplicate: ack.duplicate };
      } catch (err) {
        // While a replicated stream elects a leader (a node of the cluster went away) its publishes
        // get no answer, or at once "no responders" as if it did not exist. The same message id is
        // sent again, so a first copy that was stored after all is not stored twice.
        const code = err instanceof StorageError ? err.code : undefined;
        const leaderless =
          code === "publish_timeout" || (code === "stream_not_found" && (await this.streamExists(task.queue)));
        if (!leaderless || Date.now() - started + pause >= this.unansweredRetryMs)
          throw wrapStorage(err, `enqueueing task ${task.id} to queue ${task.queue}`);
        if (code === "stream_not_found") await sleepUntil(Date.now() + pause);
        published = this.acks.publish(subject, data, wh);
      }
    }
  }

  /** Whether a queue's stream exists (true when the question itself gets no answer). */
  private streamExists(queue: string): Promise<boolean> {
    return this.jsm.streams.info(queueStream(queue)).then(
      () => true,
      (err: unknown) => !isNotFound(err),
    );
  }

  /**
   * How long an enqueue that JetStream does not answer is sent again (the same message id each
   * time): {@link ENQUEUE_RETRY_MS}, within the de-duplication window.
   */
  private get unansweredRetryMs(): number {
    return Math.min(ENQUEUE_RETRY_MS, this.opts.duplicateWindowMs);
  }

  /**
   * Enqueues work items of one queue as one atomic batch (at most {@link MAX_ENQUEUE_BATCH}): all
   * are stored or none, with one acknowledgement for the lot — half the client CPU of separate
   * acknowledged publishes. Used on servers with atomic batch publish (2.12.1+), on a queue stream
   * that allows it (turned on once, here, for a stream made by an earlier version).
   * @returns false when the batch was not stored — an older server, a stream that cannot batch, a
   * refused batch (e.g. it holds a task enqueued already: JetStream refuses a batch with a duplicate
   * message id) or no answer — so the caller enqueues the tasks one by one, each de-duplicated.
   */
  async enqueueBatch(
    queue: string,
    items: readonly { task: Task; data: Uint8Array; msgId: string }[],
  ): Promise<boolean> {
    if (items.length === 0) return true;
    if (!this.features.atomicBatch || items.length > MAX_ENQUEUE_BATCH || !(await this.batchable(queue))) return false;
    const levels = new Set(items.map((i) => i.task.priority));
    for (const level of levels) if (level !== DEFAULT_PRIORITY) await this.ensureLevel(queue, level);
    const messages = items.map(({ task, data, msgId }) => {
      const h = headers();
      h.set(MSG_ID_HEADER, msgId);
      return { subject: workSubject(queue, task.id, task.priority), data, headers: h };
    });
    try {
      await this.acks.publishBatch(nuid.next(), messages);
    } catch (err) {
      this.log.debug("a batch enqueue was refused; enqueueing one by one", { queue, error: (err as Error).message });
      return false;
    }
    for (const level of levels) if (level !== DEFAULT_PRIORITY) this.nc.publish(levelSignalSubject(queue, level));
    return true;
  }

  /** Whether a queue's stream takes atomic batches, turning it on once for a stream that does not. */
  private batchable(queue: string): Promise<boolean> {
    let ok = this.batchQueues.get(queue);
    if (!ok) {
      ok = (async () => {
        const stream = queueStream(queue);
        const { config } = await this.jsm.streams.info(stream);
        if ((config as { allow_atomic?: boolean }).allow_atomic) return true;
        await this.jsm.streams.update(stream, { ...config, allow_atomic: true } as typeof config);
        return true;
      })().catch((err: unknown) => {
        this.log.debug("the queue's stream takes no atomic batches", { queue, error: (err as Error).message });
        return false;
      });
      this.batchQueues.set(queue, ok);
    }
    return ok;
  }

  /**
   * Writes a task record (`data`: the task already encoded) and waits for JetStream to store it;
   * `msgId` de-duplicates a repeated write within the duplicate window.
   * @returns whether JetStream recognised it as a duplicate. @throws StorageError
   */
  async saveRecord(task: Task, data?: Uint8Array, msgId?: string): Promise<{ duplicate: boolean }> {
    try {
      const h = msgId === undefined ? sharedRecordHeaders(task) : recordHeaders(task, msgId);
      const ack = await this.records.publish(taskSubject(task.id), data ?? this.encode(task), h);
      return { duplicate: ack.duplicate };
    } catch (err) {
      throw wrapStorage(err, `saving task ${task.id}`);
    }
  }

  /**
   * Writes a task record only if the task's latest record is still the one at stream sequence
   * `seq` (0: the task has none), so a record someone wrote meanwhile — a worker's outcome — is
   * never overwritten. @returns false when someone wrote first. @throws StorageError
   */
  async replaceRecord(task: Task, seq: number, data?: Uint8Array): Promise<boolean> {
    const h = recordHeaders(task);
    h.set(EXPECTED_LAST_SUBJECT_SEQ_HEADER, String(seq));
    try {
      await this.records.publish(taskSubject(task.id), data ?? this.encode(task), h);
      return true;
    } catch (err) {
      if (err instanceof StorageError && err.code === "wrong_last_sequence") return false;
      throw wrapStorage(err, `saving task ${task.id}`);
    }
  }

  /**
   * Writes a task record without waiting for an acknowledgement. Used for the `active` record,
   * which a later acknowledged record always follows on the same connection.
   */
  saveRecordQuietly(task: Task): void {
    this.nc.publish(taskSubject(task.id), encodeTask(task), { headers: sharedRecordHeaders(task) });
  }

  /** Publishes the event of a task's current state and tells the {@link observer} (metrics). */
  announce(task: Task): void {
    this.publishEvents(task);
    this.observer?.taskState(task);
  }

  /** Publishes the event of a task's current state (core NATS, not awaited). */
  publishEvents(task: Task): void {
    const final = isFinalState(task.state);
    if (this.opts.events === "none" || (this.opts.events === "final" && !final)) return;
    this.nc.publish(taskEventSubject(task.queue, task.state, final), encodeTaskEvent(task));
  }

  /** Publishes a running task's progress event (core NATS, not awaited; only with events `"all"`). */
  publishProgressEvent(task: Task, progress: unknown): void {
    if (this.opts.events !== "all") return;
    this.nc.publish(taskInfoEventSubject("progress", task.queue), encodeProgressEvent(task, progress));
  }

  /** Publishes a running task's log-line event (core NATS, not awaited; only with events `"all"`). */
  publishLogEvent(task: Task, line: string): void {
    if (this.opts.events !== "all") return;
    this.nc.publish(taskInfoEventSubject("log", task.queue), encodeLogEvent(task, line));
  }

  /** The log lines of tasks (stream created on first use). */
  get logs(): TaskLogs {
    this.taskLogs ??= new TaskLogs({
      js: this.js,
      jsm: this.jsm,
      acks: this.acks,
      storage: this.storage,
      replicas: this.opts.replicas,
      retentionMs: this.opts.taskRetentionMs,
    });
    return this.taskLogs;
  }

  /**
   * Publishes a queue event (core NATS, not awaited) and tells the {@link observer}.
   * `extra.taskId` names the task concerned; `extra.detail` carries action-specific fields.
   */
  publishQueueEvent(
    queue: string,
    action: QueueAction,
    extra: { taskId?: string; detail?: Record<string, unknown> } = {},
  ): void {
    this.observer?.queueEvent?.(queue, action);
    if (this.opts.events === "none") return;
    this.nc.publish(queueEventSubject(queue, action), encodeQueueEvent(queue, action, extra));
  }

  /**
   * Replaces a finished task's record with an empty tombstone (carrying the task's run): the task
   * then reads as not found, yet a redelivered work item still sees that the task was finished
   * (used to discard final states).
   */
  async saveTombstone(task: Task): Promise<void> {
    const h = headers();
    h.set(RECORD_HEADERS.state, task.state);
    if (task.run) h.set(TOMBSTONE_RUN_HEADER, String(task.run));
    try {
      await this.records.publish(taskSubject(task.id), new Uint8Array(0), h);
    } catch (err) {
      throw wrapStorage(err, `discarding task ${task.id}`);
    }
  }

  /** What the task store holds for `id` (see {@link StoredRecord}). @throws StorageError */
  async recordFor(id: string): Promise<StoredRecord> {
    return storedRecord(await this.reader.get(TASKS_STREAM, { last_by_subj: taskSubject(id) }));
  }

  /**
   * What the task store holds for each of `ids` (at most 1,024): one request on servers with
   * batched direct get (2.11), else one per id, all in flight at once. @throws StorageError
   */
  async recordsFor(ids: readonly string[]): Promise<Map<string, StoredRecord>> {
    const subjects = ids.map(taskSubject);
    const found = await this.reader.lastOfMany(TASKS_STREAM, subjects);
    const records = new Map<string, StoredRecord>();
    for (let i = 0; i < ids.length; i++) records.set(ids[i]!, storedRecord(found.get(subjects[i]!)));
    return records;
  }

  /**
   * The run number for starting `task` again from scratch (retry, redrive): one past both its own
   * and its stored record's, so no delivery of an earlier run can stand in for it.
   */
  async nextRun(task: Task): Promise<number> {
    const rec = await this.recordFor(task.id);
    const stored = rec.kind === "task" ? (rec.task.run ?? 0) : rec.kind === "discarded" ? rec.run : 0;
    return Math.max(task.run ?? 0, stored) + 1;
  }

  /**
   * The latest record of a task: undefined when there is none, `null` for a tombstone
   * (a task discarded after it finished).
   */
  async loadRecord(id: string): Promise<Task | undefined | null> {
    const rec = await this.recordFor(id);
    return rec.kind === "task" ? rec.task : rec.kind === "discarded" ? null : undefined;
  }

  private decodeRecord(data: Uint8Array, subject: string): Task | undefined {
    if (data.byteLength === 0) return undefined;
    try {
      return decodeTask(data);
    } catch (err) {
      this.log.error("skipping a corrupt task record", { subject, error: (err as Error).message });
      return undefined;
    }
  }

  /**
   * Loads a task by id: its record, else — a task that has not started yet has none — its work
   * item, looked for in `queue` first when given, then in every queue (a few at a time).
   * @throws NotFoundError (`task_not_found`)
   */
  async loadTask(id: string, queue?: string): Promise<Task> {
    validateId(id);
    const rec = await this.loadRecord(id);
    if (rec) return rec;
    if (rec === null) throw new NotFoundError("task_not_found", `task ${id} was discarded`);
    const item = await this.findWorkItem(id, queue);
    if (item) return item;
    throw new NotFoundError("task_not_found", `task ${id} not found`);
  }

  /**
   * The work item of a task that has one: in `queue` first when given, then (unless `onlyQueue`)
   * in any queue.
   */
  async findWorkItem(id: string, queue?: string, onlyQueue = false): Promise<Task | undefined> {
    const inQueue = async (q: string) => {
      const m = await this.reader.get(queueStream(q), { last_by_subj: workSubjectAnyPriority(q, id) });
      return m ? decodeTask(m.data) : undefined;
    };
    if (queue !== undefined) {
      const hit = await inQueue(queue);
      if (hit || onlyQueue) return hit;
    }
    const names = (await this.queueNames()).filter((q) => q !== queue);
    for (let i = 0; i < names.length; i += LOOKUP_CONCURRENCY) {
      const hits = await Promise.all(names.slice(i, i + LOOKUP_CONCURRENCY).map(inQueue));
      const hit = hits.find((t) => t !== undefined);
      if (hit) return hit;
    }
    return undefined;
  }

  /** Removes a task's work item (if queued) from `queue`. */
  async removeWorkItem(queue: string, id: string): Promise<void> {
    try {
      await this.jsm.streams.purge(queueStream(queue), { filter: workSubjectAnyPriority(queue, id) });
    } catch (err) {
      if (!isNotFound(err)) throw wrapStorage(err, `removing task ${id} from queue ${queue}`);
    }
  }

  /** Deletes a task's record, its work item and its log lines. @throws NotFoundError when neither exists. */
  async deleteTask(id: string): Promise<void> {
    const task = await this.loadTask(id);
    await this.removeWorkItem(task.queue, id);
    await this.jsm.streams.purge(TASKS_STREAM, { filter: taskSubject(id) });
    await this.logs.remove(id);
  }

  /**
   * Up to `n` items of a queue in queue order, without dispatching them: waiting and in-flight
   * items alike (a waiting task has no record: this is where it is listed), skipping corrupt items
   * and tasks past their deadline (they will never be dispatched). A queue that does not exist has
   * none.
   */
  async peek(queue: string, n: number, now = Date.now()): Promise<Task[]> {
    const out: Task[] = [];
    if (n <= 0 || !(await this.findQueue(queue))) return out;
    const stream = queueStream(queue);
    try {
      const { state } = await this.jsm.streams.info(stream);
      let seq = state.first_seq;
      while (out.length < n && state.messages > 0 && seq <= state.last_seq) {
        const m = await this.reader.get(stream, { seq, next_by_subj: queueSubjects(queue) });
        if (!m) break;
        seq = m.seq + 1;
        let task: Task;
        try {
          task = decodeTask(m.data);
        } catch {
          continue;
        }
        if (task.deadline === undefined || task.deadline >= now) out.push(task);
      }
    } catch (err) {
      if (isNotFound(err)) return out;
      throw wrapStorage(err, `peeking into queue ${queue}`);
    }
    return out;
  }

  /**
   * A page of the tasks waiting in a queue — work items not yet delivered to a consumer (a
   * waiting task has no record: this is where it is listed) — newest first, below stream sequence
   * `beforeSeq` (a previous page's `nextSeq`). Reads at most `scanLimit` items for a page, so a type
   * filter that matches little stops early (with `nextSeq` to go on).
   * @throws NotFoundError (`queue_not_found`), StorageError
   */
  async waitingTasks(queue: string, q: WaitingQuery): Promise<WaitingPage> {
    const stream = queueStream(queue);
    let first: number;
    let last: number;
    const delivered = new Array<number>(PRIORITY_LEVELS).fill(0);
    try {
      const info = await this.jsm.streams.info(stream);
      first = info.state.first_seq;
      last = info.state.last_seq;
      if (info.state.messages === 0) return { tasks: [] };
      for await (const c of this.jsm.consumers.list(stream)) {
        const level = levelOfConsumer(c.name);
        if (level !== undefined) delivered[level] = c.delivered.stream_seq;
      }
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError("queue_not_found", `queue ${queue} does not exist`);
      throw wrapStorage(err, `reading queue ${queue}`);
    }
    const tasks: Task[] = [];
    let hi = Math.min(last, (q.beforeSeq ?? last + 1) - 1);
    let window = q.limit;
    let scanned = 0;
    const subject = queueSubjects(queue);
    while (hi >= first && scanned < (q.scanLimit ?? Number.POSITIVE_INFINITY)) {
      // Work items of [lo, hi], read forward (direct get of the next item on the queue's subjects).
      const lo = Math.max(first, hi - window + 1);
      const batch: DirectMessage[] = [];
      for (let seq = lo; seq <= hi; ) {
        const m = await this.reader.get(stream, { seq, next_by_subj: subject });
        if (!m || m.seq > hi) break;
        batch.push(m);
        scanned++;
        seq = m.seq + 1;
      }
      for (let i = batch.length - 1; i >= 0; i--) {
        const m = batch[i]!;
        const level = parseWorkSubject(m.subject)?.level;
        if (level === undefined || m.seq <= delivered[level]!) continue; // handed to a consumer already
        let t: Task;
        try {
          t = decodeTask(m.data);
        } catch (err) {
          this.log.warn("skipping a corrupt work item", { queue, seq: m.seq, error: (err as Error).message });
          continue;
        }
        if (q.type !== undefined && t.type !== q.type) continue;
        tasks.push(t);
        if (tasks.length === q.limit) return { tasks, nextSeq: m.seq };
      }
      hi = lo - 1;
      window *= 2;
    }
    return hi >= first ? { tasks, nextSeq: hi + 1 } : { tasks };
  }

  /** Names of all queues. */
  async queueNames(): Promise<string[]> {
    const names: string[] = [];
    for await (const name of this.jsm.streams.names(`jetq.q.>`)) {
      if (name.startsWith(QUEUE_STREAM_PREFIX)) names.push(name.slice(QUEUE_STREAM_PREFIX.length));
    }
    return names.sort();
  }

  /** Depth and consumer numbers of one queue. @throws NotFoundError */
  async queueInfo(name: string): Promise<QueueInfo> {
    const config = await this.getQueue(name);
    const stream = await this.jsm.streams.info(queueStream(name)).catch((err) => {
      throw isNotFound(err)
        ? new NotFoundError("queue_not_found", `queue ${name} does not exist`)
        : wrapStorage(err, "queue info");
    });
    const consumers: ConsumerInfo[] = [];
    const pendingByPriority = new Array<number>(PRIORITY_LEVELS).fill(0);
    const levelOf = new Map(Array.from({ length: PRIORITY_LEVELS }, (_, l) => [levelConsumer(l), l]));
    try {
      for await (const c of this.jsm.consumers.list(queueStream(name))) {
        const level = levelOf.get(c.name);
        if (level === undefined) continue;
        consumers.push(c);
        pendingByPriority[level] = c.num_pending;
      }
    } catch (err) {
      throw wrapStorage(err, `listing the consumers of queue ${name}`);
    }
    const inFlight = consumers.reduce((n, c) => n + c.num_ack_pending, 0);
    const controls = await (await this.controls()).get(name);
    return {
      name,
      config,
      depth: stream.state.messages,
      inFlight,
      pending: consumers.length > 0 ? pendingByPriority.reduce((a, b) => a + b, 0) : stream.state.messages,
      pendingByPriority,
      deadLetters: (await deadLetterState(this, name)).messages,
      stream,
      consumers,
      controls,
    };
  }

  /** Removes every item from a queue (records stay). */
  async purgeQueue(name: string): Promise<number> {
    await this.getQueue(name);
    const r = await this.jsm.streams.purge(queueStream(name));
    return r.purged;
  }

  /** Deletes a queue: its stream, consumers, dead letters and definition. */
  async deleteQueue(name: string): Promise<void> {
    await this.getQueue(name);
    await this.jsm.streams.delete(queueStream(name)).catch((err) => {
      if (!isNotFound(err)) throw wrapStorage(err, `deleting queue ${name}`);
    });
    await deleteDeadLetterStream(this, name);
    const kv = await this.configBucket();
    await kv.delete(queueConfigKey(name));
    await kv.delete(queueControlsKey(name));
    this.queues.delete(name);
  }

  /** The task stream's size, last sequence and max age (zeros while it does not exist). */
  async taskStreamState(): Promise<{ records: number; lastSeq: number; maxAgeMs: number }> {
    try {
      const info = await this.jsm.streams.info(TASKS_STREAM);
      return {
        records: info.state.messages,
        lastSeq: info.state.last_seq,
        maxAgeMs: Math.round(info.config.max_age / 1e6),
      };
    } catch (err) {
      if (isNotFound(err)) return { records: 0, lastSeq: 0, maxAgeMs: 0 };
      throw wrapStorage(err, "reading the task stream");
    }
  }

  /** The task record stored at stream sequence `seq` (undefined when it was replaced or removed). */
  async recordAt(seq: number): Promise<DirectMessage | undefined> {
    return this.reader.get(TASKS_STREAM, { seq });
  }

  /**
   * The task records from stream sequence `fromSeq` on, headers only (an index rebuilds itself
   * without reading bodies: every record carries `Jetq-Queue`, `Jetq-State`, `Jetq-Type`), then
   * new ones as they are written. Close the returned messages to stop.
   */
  async followRecordHeaders(fromSeq: number): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(TASKS_STREAM, {
      headers_only: true,
      ...(fromSeq > 1
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq }
        : { deliver_policy: DeliverPolicy.All }),
    });
    return consumer.consume({ max_messages: 10_000 });
  }

  /** Numbers of the task store. */
  async tasksInfo(): Promise<TasksInfo> {
    const stream = await this.jsm.streams.info(TASKS_STREAM);
    return { records: stream.state.messages, bytes: stream.state.bytes, stream };
  }

  /** Every task record, oldest first (see {@link recordsAfter}). */
  async *tasks(): AsyncGenerator<Task> {
    for await (const r of this.recordsAfter(0)) yield r.task;
  }

  /**
   * The task records after stream sequence `afterSeq` up to the last one stored when called,
   * oldest first; `more` says whether records follow. A record that fails to decode is logged and
   * skipped, as are tombstones.
   * @throws StorageError
   */
  async *recordsAfter(afterSeq = 0): AsyncGenerator<{ seq: number; task: Task; more: boolean }> {
    let last: number;
    let first: number;
    try {
      const { state } = await this.jsm.streams.info(TASKS_STREAM);
      if (state.messages === 0 || afterSeq >= state.last_seq) return;
      last = state.last_seq;
      first = state.first_seq;
    } catch (err) {
      if (isNotFound(err)) return;
      throw wrapStorage(err, "reading the task stream");
    }
    let messages: ConsumerMessages;
    try {
      const consumer = await this.js.consumers.get(TASKS_STREAM, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(afterSeq + 1, first),
      });
      messages = await consumer.consume();
    } catch (err) {
      throw wrapStorage(err, "scanning task records");
    }
    try {
      for await (const m of messages) {
        const more = m.info.pending > 0 && m.seq < last;
        const task = m.data.byteLength > 0 ? this.decodeRecord(m.data, m.subject) : undefined;
        if (task) yield { seq: m.seq, task, more };
        if (!more) break;
      }
    } finally {
      await messages.close().catch(() => undefined);
    }
  }
}
