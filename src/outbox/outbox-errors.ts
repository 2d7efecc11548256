import { JetqError } from "../errors.js";

/**
 * A problem with an outbox's SQLite file: it is not a database, it is damaged, it is a directory,
 * it cannot be opened, another process holds it, or it belongs to something else.
 * `path` names the file and the message says what is wrong with it; nothing in it is dropped.
 *
 * Codes: `outbox_unreadable` (cannot be opened or read), `outbox_corrupt` (not a database, or
 * damaged), `outbox_incompatible` (a SQLite database that is not a jetq outbox, or a newer schema),
 * `outbox_locked` (another process has it open), `outbox_closed` (used after `close()`),
 * `outbox_write_failed` (a write or commit failed, e.g. disk full).
 */
export class OutboxError extends JetqError {
  /** The outbox file concerned. */
  readonly path: string;

  constructor(code: string, path: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.path = path;
  }
}

/** Which limit an {@link OutboxFullError} hit. */
export type OutboxLimit = "maxEntries" | "maxBytes" | "maxAgeMs";

/**
 * The outbox is at a limit (`maxEntries`, `maxBytes` or `maxAgeMs`) and its policy is `"reject"`:
 * the message was not written. Code `outbox_full`.
 */
export class OutboxFullError extends JetqError {
  /** The limit that was hit. */
  readonly limit: OutboxLimit;
  /** The configured value of that limit. */
  readonly max: number;
  /** The outbox file. */
  readonly path: string;

  constructor(path: string, limit: OutboxLimit, max: number, detail: string) {
    super("outbox_full", `outbox ${path} is full: ${detail} (${limit} = ${max})`);
    this.path = path;
    this.limit = limit;
    this.max = max;
  }
}
