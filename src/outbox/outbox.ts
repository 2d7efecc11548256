import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { chmodSync, closeSync, openSync, statSync } from "node:fs";
import type Database from "better-sqlite3";
import { ValidationError } from "../errors.js";
import { OutboxError, OutboxFullError, type OutboxLimit } from "./outbox-errors.js";
import { sqlite } from "./sqlite.js";

/**
 * Makes the outbox file readable by its owner only (it holds payloads not yet sent): a new file is
 * created with mode 0600 before SQLite opens it, and an existing file or WAL readable by others is
 * narrowed to 0600. SQLite creates the WAL with the database file's mode. Failures are left to
 * SQLite's open to report.
 */
function keepPrivate(path: string): void {
  try {
    closeSync(openSync(path, "wx", 0o600));
  } catch {
    // exists already (narrowed below), or cannot be created (SQLite says why)
  }
  for (const file of [path, `${path}-wal`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // missing, or not ours to change
    }
  }
}

/** What an outbox does when a new message would exceed a limit. */
export type OutboxFullPolicy = "reject" | "dropOldest";

/**
 * How a flusher hands an entry to NATS: `"jetstream"` publishes it to a stream and waits for the
 * stream's acknowledgement; `"request"` sends it as a core NATS request (e.g. to jetq's schedule
 * request API) and takes the reply as the acknowledgement.
 */
export type OutboxDelivery = "jetstream" | "request";

/** Options of {@link Outbox.open}. */
export interface OutboxOptions {
  /** Most entries kept at once. @defaultValue 1_000_000 */
  maxEntries?: number;
  /** Most bytes (payloads, subjects, headers, ids) kept at once. @defaultValue 1 GiB (1_073_741_824) */
  maxBytes?: number;
  /**
   * Oldest an entry may get. With `whenFull: "reject"`, once the oldest entry is older than this the
   * outbox refuses new messages (NATS has been unreachable for too long); with `"dropOldest"`,
   * older entries are deleted (and reported) when a message is saved. @defaultValue no limit
   */
  maxAgeMs?: number;
  /**
   * At a limit: `"reject"` refuses the new message with an {@link OutboxFullError}; `"dropOldest"`
   * deletes the oldest entries to make room and emits `dropped`. @defaultValue `"reject"`
   */
  whenFull?: OutboxFullPolicy;
  /**
   * SQLite `synchronous` setting for saves. `"full"`: a save returns only once the WAL is fsync'd,
   * so it survives a crash of the process, the OS or the power. `"normal"`: it survives a crash of
   * the process but the last commits may be lost with the OS or the power. @defaultValue `"full"`
   */
  synchronous?: "full" | "normal";
  /**
   * Run SQLite's `quick_check` when opening, so a damaged file is reported at once instead of at
   * the first damaged page. Its cost grows with the file. @defaultValue true
   */
  integrityCheck?: boolean;
}

/** A message to put in an outbox. */
export interface OutboxMessage {
  /** NATS subject to publish to. */
  subject: string;
  /** Payload. */
  data: Uint8Array;
  /** De-duplication id (`Nats-Msg-Id`). @defaultValue `<outbox id>:<seq>` */
  msgId?: string;
  /** NATS headers to send with it. */
  headers?: Record<string, string>;
  /** How to deliver it. @defaultValue `"jetstream"` */
  delivery?: OutboxDelivery;
}

/** A message stored in an outbox. */
export interface OutboxEntry {
  /** Position in the outbox: strictly increasing, never reused, even after the outbox empties. */
  seq: number;
  /** NATS subject. */
  subject: string;
  /** Payload. */
  data: Uint8Array;
  /** De-duplication id: the one given, or `<outbox id>:<seq>`. */
  msgId: string;
  /** Headers given with the message, if any. */
  headers?: Record<string, string>;
  /** How it is delivered. */
  delivery: OutboxDelivery;
  /** When it was saved (ms since the epoch). */
  createdAt: number;
  /** Bytes it counts against `maxBytes`. */
  size: number;
}

/** What {@link Outbox}'s `dropped` event reports. */
export interface OutboxDropInfo {
  /** Entries deleted. */
  count: number;
  /** Their bytes. */
  bytes: number;
  /** The limit that made room necessary. */
  limit: OutboxLimit;
  /** Sequence numbers of the first and last entry deleted. */
  firstSeq: number;
  lastSeq: number;
}

/** Events of an {@link Outbox}. */
export interface OutboxEvents {
  /** Entries were deleted unsent by the `dropOldest` policy. */
  dropped: [OutboxDropInfo];
}

/** Numbers describing an outbox at one moment. */
export interface OutboxState {
  /** Entries waiting. */
  pending: number;
  /** Their bytes. */
  bytes: number;
  /** Age of the oldest entry in ms (0 when empty). */
  oldestAgeMs: number;
  /** Entries deleted unsent by `dropOldest` since open. */
  droppedTotal: number;
}

/** Default of {@link OutboxOptions.maxEntries}. */
export const DEFAULT_OUTBOX_MAX_ENTRIES = 1_000_000;
/** Default of {@link OutboxOptions.maxBytes}. */
export const DEFAULT_OUTBOX_MAX_BYTES = 1024 * 1024 * 1024;

const SCHEMA_VERSION = 1;
const META = "jetq_outbox_meta";
const ENTRIES = "jetq_outbox_entries";

interface Row {
  seq: number;
  subject: string;
  data: Buffer;
  msg_id: string | null;
  headers: string | null;
  delivery: number;
  created_at: number;
  size: number;
}

const COLUMNS = "seq, subject, data, msg_id, headers, delivery, created_at, size";

function sqliteCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "";
}

/** Turns a SQLite failure into an {@link OutboxError} naming the file. */
export function outboxFailure(
  path: string,
  err: unknown,
  doing: string,
  fallback = "outbox_write_failed",
): OutboxError {
  if (err instanceof OutboxError) return err;
  const code = sqliteCode(err);
  const why = (err as Error).message;
  if (code === "SQLITE_NOTADB")
    return new OutboxError("outbox_corrupt", path, `outbox file ${path} is not a SQLite database (${why})`, {
      cause: err,
    });
  if (code.startsWith("SQLITE_CORRUPT"))
    return new OutboxError("outbox_corrupt", path, `outbox file ${path} is damaged while ${doing}: ${why}`, {
      cause: err,
    });
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return new OutboxError(
      "outbox_locked",
      path,
      `outbox file ${path} is in use by another process (an outbox has one owner at a time): ${why}`,
      { cause: err },
    );
  if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_PERM") || code.startsWith("SQLITE_AUTH"))
    return new OutboxError("outbox_unreadable", path, `cannot open outbox file ${path}: ${why}`, { cause: err });
  return new OutboxError(fallback, path, `outbox file ${path}: ${doing} failed: ${why}`, {
    cause: err,
  });
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!(v > 0)) throw new ValidationError("invalid_option", `${name} must be a positive number, got ${v}`);
  return v;
}

/**
 * An ordered, durable buffer of outgoing NATS messages in a SQLite file (WAL mode), one per
 * producer. Every operation is synchronous and committed when it returns.
 *
 * The file is held exclusively while open: a second process opening it gets an
 * {@link OutboxError} `outbox_locked` until the first closes it or dies.
 *
 * ```ts
 * const box = Outbox.open("./outbox.db");
 * box.save({ subject: "orders.new", data: payload });
 * for (const e of box.all()) console.log(e.seq, e.msgId);
 * box.removeOldest();
 * box.close();
 * ```
 */
export class Outbox extends EventEmitter<OutboxEvents> {
  /** Stable random id of this outbox file, the prefix of derived de-duplication ids. */
  readonly id: string;
  /** Limits in force. */
  readonly limits: { maxEntries: number; maxBytes: number; maxAgeMs: number; whenFull: OutboxFullPolicy };
  private readonly db: Database.Database;
  private readonly syncMode: "FULL" | "NORMAL";
  private pendingCount = 0;
  private pendingBytes = 0;
  private oldestAt: number | undefined;
  private oldestKnown = false;
  private dropped = 0;
  private closed = false;
  private readonly stmt: {
    insert: Database.Statement<[string, Buffer, string | null, string | null, number, number, number]>;
    after: Database.Statement<[number, number], Row>;
    oldest: Database.Statement<[], Row>;
    oldestAt: Database.Statement<[], { created_at: number }>;
    get: Database.Statement<[number], Row>;
    del: Database.Statement<[number], { size: number }>;
    putMeta: Database.Statement<[string, string]>;
    getMeta: Database.Statement<[string], { value: string }>;
  };
  private readonly saveTx: (msgs: readonly OutboxMessage[], now: number) => OutboxEntry[];
  private readonly deleteTx: (seqs: Iterable<number>) => number;

  private constructor(
    /** Path of the SQLite file. */
    readonly path: string,
    db: Database.Database,
    opts: OutboxOptions,
  ) {
    super();
    this.db = db;
    this.limits = {
      maxEntries: positive("maxEntries", opts.maxEntries, DEFAULT_OUTBOX_MAX_ENTRIES),
      maxBytes: positive("maxBytes", opts.maxBytes, DEFAULT_OUTBOX_MAX_BYTES),
      maxAgeMs: positive("maxAgeMs", opts.maxAgeMs, Number.POSITIVE_INFINITY),
      whenFull: opts.whenFull ?? "reject",
    };
    if (this.limits.whenFull !== "reject" && this.limits.whenFull !== "dropOldest")
      throw new ValidationError("invalid_option", `whenFull must be "reject" or "dropOldest", got ${opts.whenFull}`);
    this.syncMode = opts.synchronous === "normal" ? "NORMAL" : "FULL";
    db.pragma(`synchronous = ${this.syncMode}`);
    this.id = this.initSchema();
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO ${ENTRIES} (subject, data, msg_id, headers, delivery, created_at, size) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      after: db.prepare(`SELECT ${COLUMNS} FROM ${ENTRIES} WHERE seq > ? ORDER BY seq LIMIT ?`),
      oldest: db.prepare(`SELECT ${COLUMNS} FROM ${ENTRIES} ORDER BY seq LIMIT 1`),
      oldestAt: db.prepare(`SELECT created_at FROM ${ENTRIES} ORDER BY seq LIMIT 1`),
      get: db.prepare(`SELECT ${COLUMNS} FROM ${ENTRIES} WHERE seq = ?`),
      del: db.prepare(`DELETE FROM ${ENTRIES} WHERE seq = ? RETURNING size`),
      putMeta: db.prepare(`INSERT OR REPLACE INTO ${META} (key, value) VALUES (?, ?)`),
      getMeta: db.prepare(`SELECT value FROM ${META} WHERE key = ?`),
    };
    const totals = db.prepare(`SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM ${ENTRIES}`).get() as {
      n: number;
      b: number;
    };
    this.pendingCount = totals.n;
    this.pendingBytes = totals.b;
    this.saveTx = db.transaction((msgs: readonly OutboxMessage[], now: number) => this.insertAll(msgs, now));
    this.deleteTx = db.transaction((seqs: Iterable<number>) => {
      let n = 0;
      for (const seq of seqs) if (this.deleteRow(seq)) n++;
      if (n > 0) this.stmt.putMeta.run("deleted_at", String(Date.now()));
      return n;
    });
  }

  /**
   * Opens (creating when missing) the outbox file at `path`.
   * @throws ConfigError (`missing_dependency`) when better-sqlite3 is not installed;
   * OutboxError naming the file: `outbox_unreadable` (a directory, no permission, missing
   * parent directory), `outbox_corrupt` (not a database or damaged), `outbox_incompatible`,
   * `outbox_locked` (another process has it open)
   */
  static open(path: string, opts: OutboxOptions = {}): Outbox {
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      // missing: SQLite creates it (or says why it cannot)
    }
    if (isDir) throw new OutboxError("outbox_unreadable", path, `outbox file ${path} is a directory, not a file`);
    if (path !== ":memory:" && path !== "") keepPrivate(path);
    const Sqlite = sqlite();
    let db: Database.Database;
    try {
      db = new Sqlite(path);
    } catch (err) {
      throw outboxFailure(path, err, "opening", "outbox_unreadable");
    }
    try {
      db.pragma("busy_timeout = 0");
      // One owner per file: the lock taken by the first write below is kept until close, and the
      // WAL index lives in process memory (no -shm file).
      db.pragma("locking_mode = EXCLUSIVE");
      const mode = db.pragma("journal_mode = WAL", { simple: true });
      if (String(mode).toLowerCase() !== "wal")
        throw new OutboxError("outbox_unreadable", path, `outbox file ${path} cannot use WAL mode (got ${mode})`);
      if (opts.integrityCheck ?? true) {
        const rows = db.pragma("quick_check") as { quick_check: string }[];
        const problems = rows.map((r) => r.quick_check).filter((r) => r !== "ok");
        if (problems.length > 0)
          throw new OutboxError(
            "outbox_corrupt",
            path,
            `outbox file ${path} is damaged: ${problems.slice(0, 5).join("; ")}`,
          );
      }
      return new Outbox(path, db, opts);
    } catch (err) {
      db.close();
      throw outboxFailure(path, err, "opening");
    }
  }

  private initSchema(): string {
    const db = this.db;
    const init = db.transaction(() => {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[])
        .map((r) => r.name)
        .filter((n) => !n.startsWith("sqlite_"));
      if (!tables.includes(META)) {
        if (tables.length > 0)
          throw new OutboxError(
            "outbox_incompatible",
            this.path,
            `${this.path} is a SQLite database but not a jetq outbox (tables: ${tables.slice(0, 5).join(", ")})`,
          );
        db.exec(`CREATE TABLE ${META} (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`);
        db.exec(`CREATE TABLE ${ENTRIES} (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          subject TEXT NOT NULL,
          data BLOB NOT NULL,
          msg_id TEXT,
          headers TEXT,
          delivery INTEGER NOT NULL DEFAULT 0,
          created_at INTEGER NOT NULL,
          size INTEGER NOT NULL
        )`);
        const put = db.prepare(`INSERT INTO ${META} (key, value) VALUES (?, ?)`);
        put.run("schema", String(SCHEMA_VERSION));
        put.run("id", randomBytes(9).toString("base64url"));
      }
      const meta = new Map(
        (db.prepare(`SELECT key, value FROM ${META}`).all() as { key: string; value: string }[]).map((r) => [
          r.key,
          r.value,
        ]),
      );
      const schema = Number(meta.get("schema"));
      const id = meta.get("id");
      if (schema !== SCHEMA_VERSION || !id || !tables.concat(META, ENTRIES).includes(ENTRIES))
        throw new OutboxError(
          "outbox_incompatible",
          this.path,
          `outbox file ${this.path} has schema ${meta.get("schema")}; this jetq reads schema ${SCHEMA_VERSION}`,
        );
      return id;
    });
    // `immediate` takes the write lock at once, so a file held by another process fails here.
    return init.immediate();
  }

  private check(): void {
    if (this.closed) throw new OutboxError("outbox_closed", this.path, `outbox ${this.path} is closed`);
  }

  /** Entries waiting. */
  get size(): number {
    return this.pendingCount;
  }

  /** Bytes of the entries waiting. */
  get bytes(): number {
    return this.pendingBytes;
  }

  /** True once {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** When the oldest entry was saved (ms since the epoch), or undefined when empty. */
  oldestCreatedAt(): number | undefined {
    this.check();
    if (!this.oldestKnown) {
      this.oldestAt = this.run("reading", () => this.stmt.oldestAt.get()?.created_at);
      this.oldestKnown = true;
    }
    return this.oldestAt;
  }

  /**
   * When {@link deleteMany} last deleted entries (ms since the epoch, kept in the file), or
   * undefined if it never did. A flusher uses it to tell how long ago this outbox was last flushed.
   */
  lastDeletedAt(): number | undefined {
    this.check();
    const v = this.run("reading", () => this.stmt.getMeta.get("deleted_at")?.value);
    return v === undefined ? undefined : Number(v);
  }

  /** Age of the oldest entry in ms; 0 when empty. */
  oldestAgeMs(now = Date.now()): number {
    const at = this.oldestCreatedAt();
    return at === undefined ? 0 : Math.max(0, now - at);
  }

  /** Current numbers. */
  state(now = Date.now()): OutboxState {
    return {
      pending: this.pendingCount,
      bytes: this.pendingBytes,
      oldestAgeMs: this.oldestAgeMs(now),
      droppedTotal: this.dropped,
    };
  }

  /** Bytes a message counts against `maxBytes`. */
  static sizeOf(msg: OutboxMessage): number {
    let n = msg.data.byteLength + Buffer.byteLength(msg.subject);
    if (msg.msgId) n += Buffer.byteLength(msg.msgId);
    if (msg.headers) for (const [k, v] of Object.entries(msg.headers)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
    return n;
  }

  /**
   * Whether `count` more messages of `bytes` in all (on top of `reservedCount`/`reservedBytes` not
   * yet saved) fit under the limits. Returns the error a save would throw under the `"reject"`
   * policy, or undefined. Under `"dropOldest"` only a message larger than `maxBytes` fails.
   */
  roomFor(
    count: number,
    bytes: number,
    reservedCount = 0,
    reservedBytes = 0,
    now = Date.now(),
  ): OutboxFullError | undefined {
    this.check();
    const l = this.limits;
    if (bytes > l.maxBytes)
      return new OutboxFullError(this.path, "maxBytes", l.maxBytes, `a message of ${bytes} bytes can never fit`);
    if (l.whenFull === "dropOldest") return undefined;
    const n = this.pendingCount + reservedCount + count;
    if (n > l.maxEntries)
      return new OutboxFullError(
        this.path,
        "maxEntries",
        l.maxEntries,
        `${this.pendingCount + reservedCount} entries waiting`,
      );
    const b = this.pendingBytes + reservedBytes + bytes;
    if (b > l.maxBytes)
      return new OutboxFullError(
        this.path,
        "maxBytes",
        l.maxBytes,
        `${this.pendingBytes + reservedBytes} bytes waiting`,
      );
    if (l.maxAgeMs !== Number.POSITIVE_INFINITY) {
      const age = this.oldestAgeMs(now);
      if (age > l.maxAgeMs)
        return new OutboxFullError(this.path, "maxAgeMs", l.maxAgeMs, `the oldest entry is ${age} ms old`);
    }
    return undefined;
  }

  /**
   * Saves one message durably (committed, and fsync'd with `synchronous: "full"`).
   * @throws OutboxFullError at a limit under the `"reject"` policy; OutboxError when the file fails
   */
  save(msg: OutboxMessage): OutboxEntry {
    return this.saveMany([msg])[0]!;
  }

  /**
   * Saves messages in order in one transaction (all or none), durably. Under `"dropOldest"`,
   * the oldest entries are deleted in the same transaction to make room.
   * @throws OutboxFullError at a limit under the `"reject"` policy (nothing is written);
   * ValidationError for an empty subject; OutboxError when the file fails
   */
  saveMany(msgs: readonly OutboxMessage[]): OutboxEntry[] {
    this.check();
    if (msgs.length === 0) return [];
    let bytes = 0;
    for (const m of msgs) {
      if (typeof m.subject !== "string" || m.subject.length === 0)
        throw new ValidationError("invalid_subject", "an outbox message needs a subject");
      const size = Outbox.sizeOf(m);
      if (size > this.limits.maxBytes) throw this.roomFor(1, size) as OutboxFullError;
      bytes += size;
    }
    const now = Date.now();
    if (this.limits.whenFull === "reject") {
      const full = this.roomFor(msgs.length, bytes, 0, 0, now);
      if (full) throw full;
    }
    return this.run("saving", () => this.saveTx(msgs, now));
  }

  private insertAll(msgs: readonly OutboxMessage[], now: number): OutboxEntry[] {
    if (this.limits.whenFull === "dropOldest") this.makeRoom(msgs, now);
    const out: OutboxEntry[] = [];
    for (const m of msgs) {
      const size = Outbox.sizeOf(m);
      const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      const headers = m.headers && Object.keys(m.headers).length > 0 ? JSON.stringify(m.headers) : null;
      const delivery = m.delivery === "request" ? 1 : 0;
      const r = this.stmt.insert.run(m.subject, data, m.msgId ?? null, headers, delivery, now, size);
      const seq = Number(r.lastInsertRowid);
      this.pendingCount++;
      this.pendingBytes += size;
      if (this.pendingCount === 1) {
        this.oldestAt = now;
        this.oldestKnown = true;
      }
      out.push({
        seq,
        subject: m.subject,
        data: m.data,
        msgId: m.msgId ?? `${this.id}:${seq}`,
        ...(headers ? { headers: { ...m.headers } } : {}),
        delivery: m.delivery ?? "jetstream",
        createdAt: now,
        size,
      });
    }
    return out;
  }

  /** Deletes oldest entries (inside the save transaction) until `msgs` fit; emits `dropped`. */
  private makeRoom(msgs: readonly OutboxMessage[], now: number): void {
    const l = this.limits;
    let bytes = 0;
    for (const m of msgs) bytes += Outbox.sizeOf(m);
    const drop = { count: 0, bytes: 0, firstSeq: 0, lastSeq: 0, limit: "maxEntries" as OutboxLimit };
    for (;;) {
      let limit: OutboxLimit | undefined;
      if (this.pendingCount + msgs.length > l.maxEntries) limit = "maxEntries";
      else if (this.pendingBytes + bytes > l.maxBytes) limit = "maxBytes";
      else if (l.maxAgeMs !== Number.POSITIVE_INFINITY && this.pendingCount > 0 && this.oldestAgeMs(now) > l.maxAgeMs)
        limit = "maxAgeMs";
      if (!limit || this.pendingCount === 0) break;
      const row = this.stmt.oldest.get();
      if (!row) break;
      this.deleteRow(row.seq);
      if (drop.count === 0) drop.firstSeq = row.seq;
      drop.count++;
      drop.bytes += row.size;
      drop.lastSeq = row.seq;
      drop.limit = limit;
    }
    if (drop.count > 0) {
      this.dropped += drop.count;
      // Reported after the transaction's statements; listeners must not write to the outbox.
      queueMicrotask(() => this.emit("dropped", drop));
    }
  }

  /** The oldest entry, or undefined when empty. */
  oldest(): OutboxEntry | undefined {
    this.check();
    const row = this.run("reading", () => this.stmt.oldest.get());
    return row ? this.toEntry(row) : undefined;
  }

  /** One entry by sequence number. */
  get(seq: number): OutboxEntry | undefined {
    this.check();
    const row = this.run("reading", () => this.stmt.get.get(seq));
    return row ? this.toEntry(row) : undefined;
  }

  /**
   * Entries in order (oldest first): all of them, or `limit` after sequence `afterSeq`.
   * @param opts.afterSeq only entries with a larger seq. @defaultValue 0
   * @param opts.limit at most this many. @defaultValue all
   */
  all(opts: { afterSeq?: number; limit?: number } = {}): OutboxEntry[] {
    this.check();
    const limit = opts.limit ?? -1;
    return this.run("reading", () => this.stmt.after.all(opts.afterSeq ?? 0, limit)).map((r) => this.toEntry(r));
  }

  /** Deletes one entry; false when it was not there. */
  delete(seq: number): boolean {
    this.check();
    return this.run("deleting", () => this.deleteRow(seq));
  }

  /**
   * Deletes entries in one transaction; returns how many existed. With `synchronous: "full"` the
   * commit is not fsync'd on its own (it becomes durable with the next save or checkpoint): losing a
   * delete to an OS crash only means the entry is sent again, and de-duplicated.
   */
  deleteMany(seqs: Iterable<number>): number {
    this.check();
    return this.run("deleting", () => {
      if (this.syncMode === "FULL") this.db.pragma("synchronous = NORMAL");
      try {
        return this.deleteTx(seqs);
      } finally {
        if (this.syncMode === "FULL") this.db.pragma("synchronous = FULL");
      }
    });
  }

  /** Deletes and returns the oldest entry, or undefined when empty. */
  removeOldest(): OutboxEntry | undefined {
    this.check();
    return this.run("deleting", () =>
      this.db.transaction(() => {
        const row = this.stmt.oldest.get();
        if (!row) return undefined;
        this.deleteRow(row.seq);
        return this.toEntry(row);
      })(),
    );
  }

  private deleteRow(seq: number): boolean {
    const r = this.stmt.del.get(seq);
    if (!r) return false;
    this.pendingCount--;
    this.pendingBytes -= r.size;
    this.oldestKnown = false;
    return true;
  }

  private toEntry(r: Row): OutboxEntry {
    return {
      seq: r.seq,
      subject: r.subject,
      data: r.data,
      msgId: r.msg_id ?? `${this.id}:${r.seq}`,
      ...(r.headers ? { headers: JSON.parse(r.headers) as Record<string, string> } : {}),
      delivery: r.delivery === 1 ? "request" : "jetstream",
      createdAt: r.created_at,
      size: r.size,
    };
  }

  private run<T>(doing: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof OutboxFullError || err instanceof ValidationError) throw err;
      throw outboxFailure(this.path, err, doing);
    }
  }

  /** Closes the file (checkpointing the WAL) and releases it for other processes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
