/**
 * Where a schedule may publish, and which headers it may carry: the one policy every face checks
 * (the Gozo listener, the request API, `POST /v1/schedules`) and the scheduler checks again at fire
 * time. The scheduler publishes with the service's own NATS permissions, which include the
 * JetStream API, so nothing a caller names may reach a system subject or jetq's own. See
 * docs/scheduler.md ("What a schedule may publish").
 */
import { ConfigError, ValidationError } from "../errors.js";
import { isValidId } from "../jobs/names.js";
import { delayedTaskScheduleId, parseWorkSubject, SUBJECT_PREFIX } from "../jobs/storage/layout.js";

/** Options of {@link TargetPolicy}. */
export interface TargetPolicyOptions {
  /** The subject the Gozo listener takes schedules on; refused as a target. @defaultValue `"gozo"` */
  gozoSubject?: string;
  /**
   * Subject patterns (NATS wildcards: `*` one token, `>` the rest) that a target may match even
   * though it lies in a refused namespace, e.g. `$KV.MYAPP.>`. Targets are still literal subjects
   * without control characters. @defaultValue none
   */
  allowTargets?: readonly string[];
}

/** Longest target subject, in bytes. */
export const MAX_TARGET_BYTES = 1024;
/** Most pass-through headers (names) a schedule may carry. */
export const MAX_SCHEDULE_HEADERS = 64;
/** Most bytes the pass-through headers of a schedule may take (as stored: JSON of names and values). */
export const MAX_SCHEDULE_HEADER_BYTES = 4096;

/**
 * `Nats-` headers a caller may set on a delayed message (lower case): de-duplication, per-message
 * TTL and the optimistic-concurrency checks. Every other `Nats-` header (`Nats-Rollup`,
 * `Nats-Schedule*`, `Nats-Batch-*`, `Nats-Incr`, `Nats-Required-Api-Level`, …) is refused: the
 * `Nats-` prefix is the server's namespace and new headers there may change what a publish does.
 */
export const ALLOWED_NATS_HEADERS: ReadonlySet<string> = new Set([
  "nats-msg-id",
  "nats-ttl",
  "nats-expected-stream",
  "nats-expected-last-msg-id",
  "nats-expected-last-sequence",
  "nats-expected-last-subject-sequence",
  "nats-expected-last-subject-sequence-subject",
]);

/** A control character or any white space (Unicode included). */
const CONTROL_OR_SPACE = /[\p{Cc}\s]/u;
/** A control character other than horizontal tab (refused in header values). */
const VALUE_CONTROL = /(?!\t)\p{Cc}/u;

/** What the fire-time check reads of a stored schedule. */
export interface FiringSchedule {
  id: string;
  target: string;
  headers: Readonly<Record<string, readonly string[]>>;
}
/** Header names: printable ASCII without `:`. */
const HEADER_NAME = /^[!-9;-~]{1,256}$/;

/** A subject's tokens checked against a pattern's (NATS wildcard rules). */
function matches(pattern: readonly string[], subject: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === ">") return subject.length > i;
    if (i >= subject.length || (p !== "*" && p !== subject[i])) return false;
  }
  return pattern.length === subject.length;
}

function shown(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

function refuse(code: string, message: string): never {
  throw new ValidationError(code, message);
}

/**
 * Checks the syntax of a subject to publish to: 1-{@link MAX_TARGET_BYTES} bytes, tokens not empty,
 * no wildcard characters (`*`, `>`), no white space and no control character (C0, DEL, C1).
 * @throws ValidationError (`invalid_subject`)
 */
export function validateTargetSyntax(subject: unknown): string {
  if (typeof subject !== "string" || subject.length === 0)
    refuse("invalid_subject", "the target subject must be a non-empty string");
  if (Buffer.byteLength(subject) > MAX_TARGET_BYTES)
    refuse("invalid_subject", `the target subject is longer than ${MAX_TARGET_BYTES} bytes`);
  if (CONTROL_OR_SPACE.test(subject))
    refuse("invalid_subject", `invalid target subject ${shown(subject)}: no white space or control characters`);
  if (/[*>]/.test(subject))
    refuse("invalid_subject", `invalid target subject ${shown(subject)}: wildcards cannot be published to`);
  if (subject.split(".").some((t) => t === ""))
    refuse("invalid_subject", `invalid target subject ${shown(subject)}: empty token`);
  return subject;
}

/**
 * The subject and header policy of schedules. Refused targets (`forbidden_subject`):
 * - system namespaces: any subject whose first token starts with `$` (NATS reserves them: `$JS`,
 *   `$KV`, `$O`, `$SYS`, `$JSC`, `$SRV`, `$G`, `$MQTT`, `$NRG`, …);
 * - jetq's own subjects (`jetq.…`: task records, work items, schedules, events, request APIs);
 * - the Gozo subject itself (a fire would be read as a new schedule or a cancel).
 *
 * An operator can let chosen subjects through with {@link TargetPolicyOptions.allowTargets}.
 * Replies to `_INBOX.…` are ordinary subjects and allowed.
 */
export class TargetPolicy {
  private readonly gozoSubject: string;
  private readonly allowed: string[][];

  /** @throws ConfigError (`invalid_allow_target`) for a pattern that is not a valid subject pattern */
  constructor(opts: TargetPolicyOptions = {}) {
    this.gozoSubject = opts.gozoSubject ?? "gozo";
    this.allowed = (opts.allowTargets ?? []).map((p) => {
      const tokens = p.split(".");
      const bad =
        p === "" ||
        CONTROL_OR_SPACE.test(p) ||
        tokens.some((t, i) => t === "" || (t === ">" && i !== tokens.length - 1) || (/[*>]/.test(t) && t.length > 1));
      if (bad) throw new ConfigError("invalid_allow_target", `invalid --allow-target pattern ${shown(p)}`);
      return tokens;
    });
  }

  /** The allow-list patterns, as given. */
  get allowTargets(): string[] {
    return this.allowed.map((t) => t.join("."));
  }

  private isAllowed(tokens: readonly string[]): boolean {
    return this.allowed.some((p) => matches(p, tokens));
  }

  /** Why `subject` (already valid syntax) is refused, or undefined when it is allowed. */
  private refusal(subject: string): string | undefined {
    const tokens = subject.split(".");
    let why: string | undefined;
    if (tokens[0]!.startsWith("$")) why = "subjects starting with $ belong to the NATS system (JetStream, KV, …)";
    else if (tokens[0] === SUBJECT_PREFIX) why = `${SUBJECT_PREFIX}.* subjects are jetq's own`;
    else if (subject === this.gozoSubject) why = "it is the Gozo subject itself";
    if (why === undefined || this.isAllowed(tokens)) return undefined;
    return `a schedule may not publish to ${shown(subject)}: ${why} (an operator can allow it with --allow-target)`;
  }

  /**
   * Checks a target a caller asked for: syntax, then the namespaces.
   * @throws ValidationError (`invalid_subject`, `forbidden_subject`)
   */
  checkTarget(subject: unknown): string {
    const s = validateTargetSyntax(subject);
    const why = this.refusal(s);
    if (why) refuse("forbidden_subject", why);
    return s;
  }

  /**
   * Checks the pass-through headers of a schedule: at most {@link MAX_SCHEDULE_HEADERS} names and
   * {@link MAX_SCHEDULE_HEADER_BYTES} bytes, names of printable ASCII without `:`, values without
   * line breaks or control characters, and no `Nats-` header outside {@link ALLOWED_NATS_HEADERS}.
   * @throws ValidationError (`too_many_headers`, `headers_too_large`, `invalid_header`, `forbidden_header`)
   */
  checkHeaders(headers: Readonly<Record<string, readonly string[]>>): Record<string, string[]> {
    const names = Object.keys(headers);
    if (names.length > MAX_SCHEDULE_HEADERS)
      refuse("too_many_headers", `a schedule may carry at most ${MAX_SCHEDULE_HEADERS} headers, got ${names.length}`);
    // No prototype: a header named `__proto__` is a header like any other.
    const out = Object.create(null) as Record<string, string[]>;
    for (const name of names) {
      if (!HEADER_NAME.test(name)) refuse("invalid_header", `invalid header name ${shown(name)}`);
      const lower = name.toLowerCase();
      if (lower.startsWith("nats-") && !ALLOWED_NATS_HEADERS.has(lower))
        refuse(
          "forbidden_header",
          `header ${shown(name)} may not be set on a scheduled message (allowed Nats- headers: Nats-Msg-Id, Nats-TTL, Nats-Expected-*)`,
        );
      const values = headers[name]!;
      if (!Array.isArray(values) || values.some((v) => typeof v !== "string" || VALUE_CONTROL.test(v)))
        refuse("invalid_header", `header ${shown(name)} must hold strings without line breaks or control characters`);
      out[name] = [...values];
    }
    const bytes = Buffer.byteLength(JSON.stringify(out));
    if (bytes > MAX_SCHEDULE_HEADER_BYTES)
      refuse(
        "headers_too_large",
        `the headers of a schedule may take at most ${MAX_SCHEDULE_HEADER_BYTES} bytes, got ${bytes}`,
      );
    // An ordinary object again (spreading defines `__proto__` as an own key, like the others).
    return { ...out };
  }

  /**
   * Checks a caller's schedule id: ids of the form `jetq-task-…` belong to delayed tasks, so a
   * caller cannot replace (or imitate) one. @throws ValidationError (`reserved_id`)
   */
  checkId(id: string): string {
    if (id.startsWith(delayedTaskScheduleId("")))
      refuse("reserved_id", `schedule ids starting with ${delayedTaskScheduleId("")} are reserved for delayed tasks`);
    return id;
  }

  /**
   * Why a stored schedule must not fire, or undefined when it may: the checks of
   * {@link checkTarget} and {@link checkHeaders}, except that the schedule of a delayed task
   * (id `jetq-task-<task id>`) may publish to that task's own work subject
   * (`jetq.q.<queue>.<priority>.<task id>`). Defence in depth against schedules written to the
   * stream directly.
   */
  fireRefusal(s: FiringSchedule): ValidationError | undefined {
    try {
      validateTargetSyntax(s.target);
      this.checkHeaders(s.headers);
      if (this.isDelayedTask(s)) return undefined;
      const why = this.refusal(s.target);
      return why ? new ValidationError("forbidden_subject", why) : undefined;
    } catch (err) {
      if (err instanceof ValidationError) return err;
      throw err;
    }
  }

  private isDelayedTask(s: FiringSchedule): boolean {
    const prefix = delayedTaskScheduleId("");
    if (!s.id.startsWith(prefix)) return false;
    const taskId = s.id.slice(prefix.length);
    return isValidId(taskId) && parseWorkSubject(s.target) !== undefined && s.target.endsWith(`.${taskId}`);
  }
}
