import { Match, type MsgHdrs, headers as natsHeaders } from "@nats-io/nats-core";
import { parseDuration } from "../duration.js";
import { ValidationError } from "../errors.js";
import { newId } from "../jobs/id.js";
import { nextOccurrence, type Recurrence, validateRecurrence } from "../recurrence.js";
import { type Schedule, validateScheduleId, validateTarget } from "./schedule.js";
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

/** Limits applied to incoming schedules. */
export interface ScheduleLimits {
  /** Due times further ahead are refused. */
  maxFutureMs: number;
  /** Payloads larger than this are refused. */
  maxPayloadBytes: number;
}

/** What a Gozo message asks for. */
export type GozoCommand = { kind: "schedule"; schedule: Schedule } | { kind: "cancel"; id: string };

/** A message as received on the Gozo subject. */
export interface GozoMessage {
  reply?: string;
  headers?: MsgHdrs;
  data: Uint8Array;
}

function header(h: MsgHdrs | undefined, name: string): string | undefined {
  const v = h?.get(name, Match.IgnoreCase);
  return v === undefined || v === "" ? undefined : v;
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

/**
 * Validates a schedule request and builds the schedule (due time resolved against `now`).
 * @throws ValidationError with codes `invalid_when`, `invalid_subject`, `invalid_id`, `payload_too_large`,
 * `invalid_cron`, `invalid_timezone`, `invalid_every`, `missing_when`.
 */
export function buildSchedule(spec: ScheduleSpec, now: number, limits: ScheduleLimits): Schedule {
  const target = validateTarget(spec.target);
  if (spec.payload.byteLength > limits.maxPayloadBytes) {
    throw new ValidationError(
      "payload_too_large",
      `payload of ${spec.payload.byteLength} bytes exceeds ${limits.maxPayloadBytes}`,
    );
  }
  const echoId = spec.id !== undefined;
  const id = echoId ? validateScheduleId(spec.id) : newId();
  let recurrence: Recurrence | undefined;
  if (spec.cron !== undefined)
    recurrence = validateRecurrence(spec.tz ? { cron: spec.cron, tz: spec.tz } : { cron: spec.cron });
  else if (spec.every !== undefined) {
    let everyMs: number;
    try {
      everyMs =
        typeof spec.every === "number"
          ? spec.every
          : parseDuration(/^\d+$/.test(spec.every) ? Number(spec.every) : spec.every);
    } catch (err) {
      throw new ValidationError("invalid_every", (err as Error).message);
    }
    recurrence = validateRecurrence({ everyMs });
  }
  let due: number | undefined;
  if (spec.when !== undefined) due = parseWhen(spec.when, now, limits.maxFutureMs);
  else if (recurrence) due = nextOccurrence(recurrence, now, now);
  else throw new ValidationError("missing_when", `a schedule needs ${GOZO.when} (or a cron/interval)`);
  if (due === undefined) throw new ValidationError("invalid_cron", "the cron expression has no future run");
  const s: Schedule = { id, echoId, target, due, payload: spec.payload, headers: spec.headers ?? {}, createdAt: now };
  if (recurrence) s.recurrence = recurrence;
  return s;
}

/**
 * Interprets a message on the Gozo subject: a schedule (reply subject + `Gozo-When`) or a cancel
 * (`Gozo-Del-Id`). Headers other than the control headers are kept to be passed through.
 * @throws ValidationError for anything malformed (`missing_reply`, and the codes of {@link buildSchedule}).
 */
export function parseGozoMessage(msg: GozoMessage, now: number, limits: ScheduleLimits): GozoCommand {
  const h = msg.headers;
  const del = header(h, GOZO.delId);
  if (del !== undefined) return { kind: "cancel", id: validateScheduleId(del) };
  if (!msg.reply) throw new ValidationError("missing_reply", "a Gozo schedule needs a reply subject to deliver to");
  const passThrough: Record<string, string[]> = {};
  for (const k of h?.keys() ?? []) if (!CONTROL.has(k.toLowerCase())) passThrough[k] = h!.values(k);
  const spec: ScheduleSpec = { target: msg.reply, payload: msg.data, headers: passThrough };
  const fields = { id: GOZO.id, when: GOZO.when, cron: GOZO.cron, tz: GOZO.tz, every: GOZO.every } as const;
  for (const [field, name] of Object.entries(fields) as [keyof typeof fields, string][]) {
    const v = header(h, name);
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
