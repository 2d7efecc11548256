/**
 * jetq/outbox — durable-first publishing to NATS JetStream through a local SQLite outbox.
 * A separate entry point (`import … from "jetq/outbox"`), so applications that do not use it
 * never load better-sqlite3 — an optional peer dependency: install it (`npm install
 * better-sqlite3`) to open an outbox. See docs/outbox.md.
 */
export type {
  OutboxDelivery,
  OutboxDropInfo,
  OutboxEntry,
  OutboxEvents,
  OutboxFullPolicy,
  OutboxMessage,
  OutboxOptions,
  OutboxState,
} from "./outbox.js";
export { DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_ENTRIES, Outbox } from "./outbox.js";
export type { OutboxLimit } from "./outbox-errors.js";
export { OutboxError, OutboxFullError } from "./outbox-errors.js";
export type {
  FlushedEvent,
  FlusherStats,
  OutboxFlusherEvents,
  OutboxFlusherParams,
  ReplyEvent,
} from "./outbox-flusher.js";
export { OUTBOX_MSG_ID_HEADER, OutboxFlusher } from "./outbox-flusher.js";
export type {
  BacklogEvent,
  OutboxPublisherEvents,
  OutboxPublisherParams,
  OutboxPublishOptions,
  OutboxStats,
} from "./outbox-publisher.js";
export { OutboxPublisher } from "./outbox-publisher.js";
export type { Reply, ReplyMatcherEvents, ReplyMatcherParams, RequestMode, RequestOptions } from "./reply-matcher.js";
export {
  REPLY_TO_HEADER,
  REQUEST_ID_HEADER,
  ReplyMatcher,
  ReplyTimeoutError,
  replySubjectOf,
  respond,
} from "./reply-matcher.js";
