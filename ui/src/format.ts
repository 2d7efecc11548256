/** Numbers, durations and times for people. */

const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat();
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** 1234 → "1,234"; 1234567 → "1.2M" (exact below 10,000). */
export function count(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return "–";
  return Math.abs(n) < 10_000 ? whole.format(n) : compact.format(n);
}

/** Exact, with grouping: for tooltips. */
export function exact(n: number): string {
  return whole.format(n);
}

/** A rate per second: "0", "0.4/s", "12/s", "1.2k/s". */
export function rate(perSecond: number): string {
  if (perSecond === 0) return "0";
  if (perSecond < 10) return `${oneDecimal.format(perSecond)}/s`;
  return `${compact.format(Math.round(perSecond))}/s`;
}

/** A duration in ms: "850 ms", "12.3 s", "4m 05s", "3h 02m", "2d 4h". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${oneDecimal.format(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Epoch ms or an RFC 3339 string as ms. */
export function ms(t: number | string): number {
  return typeof t === "number" ? t : Date.parse(t);
}

/** "5 s ago", "in 3m 10s". */
export function relative(t: number | string, now = Date.now()): string {
  const d = ms(t) - now;
  if (Math.abs(d) < 1000) return "now";
  return d < 0 ? `${duration(-d)} ago` : `in ${duration(d)}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A local date and time, optionally in another time zone. */
export function when(t: number | string, timeZone?: string): string {
  const d = new Date(ms(t));
  if (Number.isNaN(d.getTime())) return "–";
  if (!timeZone) return dateTime.format(d);
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium", timeZone }).format(d);
  } catch {
    return dateTime.format(d);
  }
}

/** Bytes: "812 B", "1.4 KB", "3.2 MB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${oneDecimal.format(n / 1024)} KB`;
  return `${oneDecimal.format(n / 1024 / 1024)} MB`;
}
