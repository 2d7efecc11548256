import { type MsgHdrs, headers as natsHeaders } from "@nats-io/nats-core";
import { parseDuration } from "../duration.js";
import { ValidationError } from "../errors.js";
import { newId } from "../jobs/id.js";
import { hasControlCharacter } from "../jobs/names.js";
import { type Schedule, validateScheduleId } from "../jobs/storage/schedule-codec.js";
import { nextOccurrence, type Recurrence, validateRecurrence } from "../recurrence.js";
import { isTimeInRange } from "../time-range.js";
import type { TargetPolicy } from "./target-policy.js";
import { parseWhen } from "./when.js";

/** Gozo's headers, unchanged, and jetq's extensions (never echoed on fired messages). */
export const GOZO = {
  /** Due time: epoch seconds or `+seconds` (jetq also takes fractions, units and RFC 3339). */
  when: "Gozo-When",
  /** Optional unique id; echoed on the fired message. */
  id: "Gozo-Id",
  /** Cancels the schedule with this id. */
  delId: "Gozo-Del-Id",
  /** Set to `Yes` on every fired message. */
  reply: "Gozo-Reply",
  /** Extension: cron expression (5–7 fields, seconds allowed) of a recurring schedule. */
  cron: "Gozo-Cron",
  /** Extension: IANA time zone of {@link GOZO.cron}. */
  tz: "Gozo-Cron-Tz",
  /** Extension: fixed interval of a recurring schedule (`"30s"`, `"5m"`, or ms). */
  every: "Gozo-Every",
} as const;

const CONTROL = new Set<string>(
  [GOZO.when, GOZO.id, GOZO.delId, GOZO.cron, GOZO.tz, GOZO.every].map((h) => h.toLowerCase()),
);

/** Most header lines a Gozo message may have (control and pass-through headers together). */
export const MAX_GOZO_HEADERS = 100;
/** Most bytes the header block of a Gozo message may take. */
export const MAX_GOZO_HEADER_BYTES = 8192;

/** Limits applied to incoming schedules, and the policy of what they may publish. */
export interface ScheduleLimits {
  /** Due times further ahead are refused, and so are recurrences whose interval or next run is. */
  maxFutureMs: number;
  /** Payloads larger than this are refused. */
  maxPayloadBytes: number;
  /** Where schedules may publish and which headers they may carry. */
  policy: TargetPolicy;
}

/** What a Gozo message asks for. */
export type GozoCommand = { kind: "schedule"; schedule: Schedule } | { kind: "cancel"; id: string };

/** A message as received on the Gozo subject. */
export interface GozoMessage {
  reply?: string | undefined;
  headers?: MsgHdrs | undefined;
  data: Uint8Array;
}

/** The description of a schedule request, from Gozo headers or the request API. */
export interface ScheduleSpec {
  id?: string;
  target: string;
  when?: string;
  cron?: string;
  tz?: string;
  every?: string | number;
  payload: Uint8Array;
  headers?: Record<string, string[]>;
}

function recurrenceOf(spec: ScheduleSpec, maxFutureMs: number): Recurrence | undefined {
  if (spec.cron !== undefined) {
    // Both are stored in headers, where control characters cannot go.
    if (hasControlCharacter(spec.cron) || (spec.tz !== undefined && hasControlCharacter(spec.tz)))
      throw new ValidationError("invalid_cron", "the cron expression and time zone may not hold control characters");
    return validateRecurrence(spec.tz ? { cron: spec.cron, tz: spec.tz } : { cron: spec.cron });
  }
  if (spec.every === undefined) return undefined;
  let everyMs: number;
  try {
    everyMs =
      typeof spec.every === "number"
        ? spec.every
        : parseDuration(/^\d+$/.test(spec.every) ? Number(spec.every) : spec.every);
  } catch (err) {
    throw new ValidationError("invalid_every", (err as Error).message);
  }
  const r = validateRecurrence({ everyMs });
  if ("everyMs" in r && r.everyMs > maxFutureMs)
    throw new ValidationError(
      "invalid_every",
      `the interval may be at most the max delay (${Math.floor(maxFutureMs / 86_400_000)} days)`,
    );
  return r;
}

/**
 * Validates a schedule request and builds the schedule (due time resolved against `now`).
 * @throws ValidationError with codes `invalid_when`, `invalid_subject`, `forbidden_subject`, `invalid_id`,
 * `reserved_id`, `payload_too_large`, `invalid_header`, `forbidden_header`, `too_many_headers`,
 * `headers_too_large`, `invalid_cron`, `invalid_timezone`, `invalid_every`, `missing_when`.
 */
export function buildSchedule(spec: ScheduleSpec, now: number, limits: ScheduleLimits): Schedule {
  const { policy } = limits;
  const target = policy.checkTarget(spec.target);
  const headers = policy.checkHeaders(spec.headers ?? {});
  if (spec.payload.byteLength > limits.maxPayloadBytes) {
    throw new ValidationError(
      "payload_too_large",
      `payload of ${spec.payload.byteLength} bytes exceeds ${limits.maxPayloadBytes}`,
    );
  }
  const echoId = spec.id !== undefined;
  const id = echoId ? policy.checkId(validateScheduleId(spec.id)) : newId();
  const recurrence = recurrenceOf(spec, limits.maxFutureMs);
  let due: number;
  if (recurrence) {
    const first = nextOccurrence(recurrence, now, now);
    if (first === undefined) throw new ValidationError("invalid_cron", "the cron expression has no future run");
    if (first - now > limits.maxFutureMs || !isTimeInRange(first))
      throw new ValidationError(
        "cron" in recurrence ? "invalid_cron" : "invalid_every",
        `the next run is more than the max delay (${Math.floor(limits.maxFutureMs / 86_400_000)} days) ahead`,
      );
    due = spec.when !== undefined ? parseWhen(spec.when, now, limits.maxFutureMs) : first;
  } else if (spec.when !== undefined) due = parseWhen(spec.when, now, limits.maxFutureMs);
  else throw new ValidationError("missing_when", `a schedule needs ${GOZO.when} (or a cron/interval)`);
  const s: Schedule = { id, echoId, target, due, payload: spec.payload, headers, createdAt: now };
  if (recurrence) s.recurrence = recurrence;
  return s;
}

/**
 * Checks the raw header block of a Gozo message (`NATS/1.0` line, header lines, blank line) before
 * anything decodes it: at most {@link MAX_GOZO_HEADER_BYTES} bytes and {@link MAX_GOZO_HEADERS} lines.
 * One pass over the bytes, so a message with thousands of headers costs microseconds.
 * @throws ValidationError (`headers_too_large`, `too_many_headers`)
 */
export function checkHeaderBlock(raw: Uint8Array): void {
  if (raw.byteLength > MAX_GOZO_HEADER_BYTES)
    throw new ValidationError(
      "headers_too_large",
      `the headers of a Gozo message may take at most ${MAX_GOZO_HEADER_BYTES} bytes, got ${raw.byteLength}`,
    );
  let lines = 0;
  for (let i = 0; i < raw.byteLength; i++) if (raw[i] === 0x0a) lines++;
  // The status line and the closing blank line are not headers.
  if (lines - 2 > MAX_GOZO_HEADERS)
    throw new ValidationError("too_many_headers", `a Gozo message may have at most ${MAX_GOZO_HEADERS} headers`);
}

/**
 * Interprets a message on the Gozo subject: a schedule (reply subject + `Gozo-When`) or a cancel
 * (`Gozo-Del-Id`). Headers other than the control headers are kept to be passed through (one pass
 * over the headers; at most {@link MAX_GOZO_HEADERS}).
 * @throws ValidationError for anything malformed (`missing_reply`, `too_many_headers`, and the codes of {@link buildSchedule}).
 */
export function parseGozoMessage(msg: GozoMessage, now: number, limits: ScheduleLimits): GozoCommand {
  const control = new Map<string, string>();
  const passThrough = Object.create(null) as Record<string, string[]>;
  let count = 0;
  for (const [k, vs] of msg.headers ?? []) {
    count += vs.length;
    if (count > MAX_GOZO_HEADERS)
      throw new ValidationError("too_many_headers", `a Gozo message may have at most ${MAX_GOZO_HEADERS} headers`);
    const lower = k.toLowerCase();
    if (!CONTROL.has(lower)) passThrough[k] = [...vs];
    else if (!control.has(lower) && vs[0] !== undefined && vs[0] !== "") control.set(lower, vs[0]);
  }
  const header = (name: string) => control.get(name.toLowerCase());
  const del = header(GOZO.delId);
  if (del !== undefined) return { kind: "cancel", id: limits.policy.checkId(validateScheduleId(del)) };
  if (!msg.reply) throw new ValidationError("missing_reply", "a Gozo schedule needs a reply subject to deliver to");
  const spec: ScheduleSpec = { target: msg.reply, payload: msg.data, headers: passThrough };
  const fields = { id: GOZO.id, when: GOZO.when, cron: GOZO.cron, tz: GOZO.tz, every: GOZO.every } as const;
  for (const [field, name] of Object.entries(fields) as [keyof typeof fields, string][]) {
    const v = header(name);
    if (v !== undefined) spec[field] = v;
  }
  return { kind: "schedule", schedule: buildSchedule(spec, now, limits) };
}

/** Headers of a fired message: the passed-through ones, `Gozo-Reply: Yes`, and `Gozo-Id` when the sender gave one. */
export function firedHeaders(s: Schedule): MsgHdrs {
  const h = natsHeaders();
  for (const [k, vs] of Object.entries(s.headers)) for (const v of vs) h.append(k, v);
  h.set(GOZO.reply, "Yes");
  if (s.echoId) h.set(GOZO.id, s.id);
  return h;
}
