import { ValidationError } from "./errors.js";

/** Earliest instant jetq accepts from outside (deadlines, run times, due times): the Unix epoch. */
export const MIN_TIME_MS = 0;
/**
 * Latest instant jetq accepts from outside: the last millisecond of year 9999 UTC, the end of what
 * RFC 3339 (four-digit years) can write. Later values cannot be shown as dates in replies.
 */
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** True when `ms` is an integer instant within {@link MIN_TIME_MS}–{@link MAX_TIME_MS}. */
export function isTimeInRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_TIME_MS && ms <= MAX_TIME_MS;
}

/**
 * Checks an instant (epoch ms) given at an edge: finite and between 1970-01-01 and the end of year
 * 9999 UTC. @throws ValidationError with `code`
 */
export function checkTime(ms: number, what: string, code: string): number {
  if (!isTimeInRange(ms)) {
    throw new ValidationError(
      code,
      `${what} must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (epoch ms ${MIN_TIME_MS}-${MAX_TIME_MS})`,
    );
  }
  return ms;
}
