import { ValidationError } from "../errors.js";
import { isTimeInRange } from "../time-range.js";

const EPOCH_SECONDS = /^\d{1,12}(\.\d{1,9})?$/;
const RELATIVE = /^\+(\d{1,12}(?:\.\d{1,9})?)(ms|s|m|h|d)?$/;
/** An RFC 3339 timestamp with seconds and a zone (`2026-01-01T00:00:00.5Z`, `2026-01-01 01:00:00+01:00`). */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function invalid(value: string, why: string): never {
  throw new ValidationError("invalid_when", `invalid Gozo-When ${JSON.stringify(value.slice(0, 64))}: ${why}`);
}

/**
 * Parses a `Gozo-When` value into an epoch-ms due time.
 * - Gozo's forms: Unix epoch seconds (`"1735689600"`) and `+N` seconds from now (`"+10"`).
 * - Extensions: fractional seconds (`"1735689600.250"`, `"+1.5"`), units (`"+250ms"`, `"+5m"`, `"+1h"`, `"+2d"`),
 *   and RFC 3339 timestamps (`"2026-01-01T00:00:00.5Z"`).
 * A time in the past is valid (it fires at once); times before 1970 or after year 9999 are not.
 * @param maxFutureMs due times further than this from `now` are refused.
 * @throws ValidationError (`invalid_when`)
 */
export function parseWhen(value: string, now: number, maxFutureMs: number): number {
  const v = value.trim();
  let due: number;
  const rel = RELATIVE.exec(v);
  if (rel) due = now + Number(rel[1]) * (UNIT_MS[rel[2] ?? "s"] ?? 1000);
  else if (EPOCH_SECONDS.test(v)) due = Number(v) * 1000;
  else if (RFC3339.test(v)) due = Date.parse(v.replace(" ", "T"));
  else return invalid(v, "use Unix epoch seconds, +seconds, +N(ms|s|m|h|d) or an RFC 3339 time");
  if (!isTimeInRange(due)) invalid(v, "not a time between 1970 and the end of year 9999");
  due = Math.round(due);
  if (due - now > maxFutureMs) invalid(v, `more than ${Math.round(maxFutureMs / 86_400_000)} days ahead`);
  return due;
}
