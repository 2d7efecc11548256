import { Cron } from "croner";
import { ValidationError } from "./errors.js";

/** How a schedule repeats: a cron expression (5–7 fields, seconds allowed, optional IANA zone) or a fixed interval. */
export type Recurrence = { cron: string; tz?: string } | { everyMs: number };

/** Smallest interval accepted for `every` schedules. */
export const MIN_EVERY_MS = 10;

/**
 * Checks a recurrence and returns it normalised.
 * @throws ValidationError (`invalid_cron`, `invalid_timezone`, `invalid_every`)
 */
export function validateRecurrence(r: Recurrence): Recurrence {
  if ("everyMs" in r) {
    if (!Number.isFinite(r.everyMs) || r.everyMs < MIN_EVERY_MS) {
      throw new ValidationError("invalid_every", `interval must be at least ${MIN_EVERY_MS} ms`);
    }
    return { everyMs: Math.round(r.everyMs) };
  }
  const cron = cronFor(r);
  if (cron.nextRun() === null) throw new ValidationError("invalid_cron", `cron ${JSON.stringify(r.cron)} never fires`);
  return r.tz ? { cron: r.cron, tz: r.tz } : { cron: r.cron };
}

function cronFor(r: { cron: string; tz?: string }): Cron {
  let cron: Cron;
  try {
    cron = new Cron(r.cron, { paused: true, ...(r.tz ? { timezone: r.tz } : {}) });
  } catch (err) {
    throw new ValidationError(
      "invalid_cron",
      `invalid cron ${JSON.stringify(r.cron.slice(0, 100))}: ${(err as Error).message}`,
    );
  }
  try {
    cron.nextRun();
  } catch (err) {
    throw new ValidationError(
      "invalid_timezone",
      `invalid time zone ${JSON.stringify(r.tz)}: ${(err as Error).message}`,
    );
  }
  return cron;
}

/**
 * The first fire time after `after` (epoch ms). For intervals, the next multiple of the interval
 * from `anchor`, so a late or restarted scheduler stays on its grid instead of drifting.
 * Returns undefined when a cron expression has no further run.
 */
export function nextOccurrence(r: Recurrence, after: number, anchor: number): number | undefined {
  if ("everyMs" in r) {
    const steps = Math.max(1, Math.floor((after - anchor) / r.everyMs) + 1);
    return anchor + steps * r.everyMs;
  }
  return cronFor(r).nextRun(new Date(after))?.getTime();
}

/**
 * The latest fire time before `before` (epoch ms), or undefined when there was none (an interval
 * schedule before its first step after `anchor`, a cron expression with no earlier run).
 */
export function previousOccurrence(r: Recurrence, before: number, anchor: number): number | undefined {
  if ("everyMs" in r) {
    const steps = Math.ceil((before - anchor) / r.everyMs) - 1;
    return steps >= 1 ? anchor + steps * r.everyMs : undefined;
  }
  return cronFor(r).previousRuns(1, new Date(before))[0]?.getTime();
}
