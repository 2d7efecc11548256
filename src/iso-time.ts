/**
 * ISO 8601 timestamps (`2026-12-02T06:03:12.345Z`, what `Date.prototype.toISOString` gives) for
 * the hot paths: every task record and event carries several. The part up to the seconds is
 * kept for the few seconds last formatted, so most calls only append the milliseconds instead
 * of making a `Date`.
 */

/** Seconds whose formatted prefix is kept (direct-mapped by the second). */
const SLOTS = 8;
const slotSecond = new Float64Array(SLOTS).fill(Number.NaN);
const slotPrefix: string[] = new Array<string>(SLOTS).fill("");

/**
 * Formats epoch ms as an ISO 8601 UTC timestamp with milliseconds, exactly as
 * `new Date(ms).toISOString()` does. @throws RangeError for an invalid time (as `toISOString`)
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  const slot = second % SLOTS;
  let prefix = slotPrefix[slot]!;
  if (slotSecond[slot] !== second) {
    const whole = new Date(second * 1000).toISOString();
    // Years past 9999 have a longer, signed form: formatted whole, not cached.
    if (whole.length !== 24) return new Date(ms).toISOString();
    prefix = whole.slice(0, 20);
    slotSecond[slot] = second;
    slotPrefix[slot] = prefix;
  }
  const milli = ms - second * 1000;
  return `${prefix}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}
