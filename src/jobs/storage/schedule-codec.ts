import { type MsgHdrs, headers as natsHeaders } from "@nats-io/nats-core";
import { ValidationError } from "../../errors.js";
import type { Recurrence } from "../../recurrence.js";
import { hasControlCharacter } from "../names.js";

/** A delayed (or recurring) message: at `due`, `payload` is published to `target`. */
export interface Schedule {
  /** Unique id; a new schedule with an existing id replaces it. */
  id: string;
  /** Whether the id came from the sender (Gozo echoes `Gozo-Id` only then). */
  echoId: boolean;
  /** Subject the message is published to. */
  target: string;
  /** Next fire time, epoch ms. */
  due: number;
  /** Message body, unchanged. */
  payload: Uint8Array;
  /** Headers passed through to the fired message. */
  headers: Record<string, string[]>;
  /** Set for recurring schedules. */
  recurrence?: Recurrence;
  /** Creation time, epoch ms (also the grid anchor of interval schedules). */
  createdAt: number;
}

/** Stream holding one message per pending schedule (`max_msgs_per_subject: 1`). */
export const SCHEDULES_STREAM = "JETQ_SCHEDULES";
/** Subject prefix; the schedule's key follows. */
export const SCHEDULE_SUBJECT_PREFIX = "jetq.sched.";
/** Wildcard bound to {@link SCHEDULES_STREAM}. */
export const SCHEDULES_SUBJECTS = `${SCHEDULE_SUBJECT_PREFIX}*`;

/** Headers of a stored schedule message (the wire format; see docs/scheduler.md). */
export const H = {
  id: "Jetq-Sched-Id",
  echoId: "Jetq-Sched-Echo-Id",
  target: "Jetq-Sched-Target",
  due: "Jetq-Sched-Due",
  created: "Jetq-Sched-Created",
  cron: "Jetq-Sched-Cron",
  tz: "Jetq-Sched-Tz",
  every: "Jetq-Sched-Every",
  headers: "Jetq-Sched-Headers",
  op: "Jetq-Sched-Op",
} as const;

const SAFE_ID = /^[A-Za-z0-9_-]{1,200}$/;
const MAX_ID_BYTES = 256;

/**
 * Checks a schedule id: any string of 1–256 bytes without control characters (an id travels in
 * headers, `Gozo-Id`, where they cannot go).
 * @throws ValidationError (`invalid_id`)
 */
export function validateScheduleId(id: unknown): string {
  if (typeof id !== "string" || id.length === 0 || Buffer.byteLength(id) > MAX_ID_BYTES || hasControlCharacter(id)) {
    throw new ValidationError(
      "invalid_id",
      `schedule id must be a string of 1-${MAX_ID_BYTES} bytes without control characters`,
    );
  }
  return id;
}

/**
 * The subject token of a schedule id: the id itself when it is a safe token, otherwise `=` and its
 * base64url form (so ids with dots or spaces can never widen a subject).
 */
export function scheduleKey(id: string): string {
  return SAFE_ID.test(id) ? id : `=${Buffer.from(id).toString("base64url")}`;
}

/** Subject of a schedule's stored message. */
export function scheduleSubject(id: string): string {
  return SCHEDULE_SUBJECT_PREFIX + scheduleKey(id);
}

/** The stored message of a schedule: subject, headers, body. */
export function encodeSchedule(s: Schedule): { subject: string; headers: MsgHdrs; data: Uint8Array } {
  const h = natsHeaders();
  h.set(H.id, s.id);
  if (s.echoId) h.set(H.echoId, "1");
  h.set(H.target, s.target);
  h.set(H.due, String(s.due));
  h.set(H.created, String(s.createdAt));
  if (s.recurrence && "cron" in s.recurrence) {
    h.set(H.cron, s.recurrence.cron);
    if (s.recurrence.tz) h.set(H.tz, s.recurrence.tz);
  } else if (s.recurrence) h.set(H.every, String(s.recurrence.everyMs));
  if (Object.keys(s.headers).length > 0) h.set(H.headers, JSON.stringify(s.headers));
  return { subject: scheduleSubject(s.id), headers: h, data: s.payload };
}

/** The stored marker that cancels a schedule (it replaces the schedule's message). */
export function encodeCancel(id: string): { subject: string; headers: MsgHdrs } {
  const h = natsHeaders();
  h.set(H.id, id);
  h.set(H.op, "cancel");
  return { subject: scheduleSubject(id), headers: h };
}

/** True when a stored message is a cancel marker. */
export function isCancelMarker(h: MsgHdrs | undefined): boolean {
  return h?.get(H.op) === "cancel";
}

function num(h: MsgHdrs, name: string): number {
  const v = Number(h.get(name));
  if (!Number.isFinite(v)) throw new ValidationError("corrupt_schedule", `stored schedule has no valid ${name}`);
  return v;
}

/** Reads only the due time of a stored schedule (for index building from headers-only scans). */
export function dueOf(h: MsgHdrs): number {
  return num(h, H.due);
}

/** Decodes a stored schedule message. @throws ValidationError (`corrupt_schedule`) */
export function decodeSchedule(h: MsgHdrs | undefined, data: Uint8Array): Schedule {
  if (!h) throw new ValidationError("corrupt_schedule", "stored schedule has no headers");
  const id = h.get(H.id);
  const target = h.get(H.target);
  if (!id || !target) throw new ValidationError("corrupt_schedule", "stored schedule has no id or target");
  let headers: Record<string, string[]> = {};
  const raw = h.get(H.headers);
  if (raw) {
    try {
      headers = JSON.parse(raw);
    } catch {
      throw new ValidationError("corrupt_schedule", `stored schedule ${id} has unreadable headers`);
    }
  }
  const s: Schedule = {
    id,
    echoId: h.get(H.echoId) === "1",
    target,
    due: num(h, H.due),
    payload: data,
    headers,
    createdAt: num(h, H.created),
  };
  const cron = h.get(H.cron);
  if (cron) s.recurrence = h.get(H.tz) ? { cron, tz: h.get(H.tz) } : { cron };
  else if (h.get(H.every)) s.recurrence = { everyMs: num(h, H.every) };
  return s;
}
