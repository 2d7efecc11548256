/**
 * The readable log format of a terminal: `12:04:05.123 WARN  [scheduler] lost leadership error="…"`.
 */
import { ansiStyle } from "./ansi.js";

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

const LEVEL_COLOR: Record<LogLevel, string> = { debug: "90", info: "32", warn: "33", error: "31;1" };

/** A field value as text: bare when it is a simple token, else JSON. */
function valueText(v: unknown): string {
  if (typeof v === "string") return /^[\w.:/@+,-]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === "bigint") return `${v}`;
  return JSON.stringify(v) ?? String(v);
}

const two = (n: number) => String(n).padStart(2, "0");

/** Local wall-clock time with milliseconds, `HH:MM:SS.mmm`. */
function clock(at: Date): string {
  return `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}.${String(at.getMilliseconds()).padStart(3, "0")}`;
}

/**
 * One log entry as a readable line (with a trailing newline): local time, level, the `component`
 * field in brackets, the message, then the other fields as `key=value`. A `stack` field follows on
 * its own indented lines.
 */
export function formatPrettyLine(
  level: LogLevel,
  msg: string,
  fields: Record<string, unknown>,
  opts: { color: boolean; now?: Date },
): string {
  const c = ansiStyle(opts.color).paint;
  const { component, stack, ...rest } = fields;
  const parts = [c("90", clock(opts.now ?? new Date())), c(LEVEL_COLOR[level], level.toUpperCase().padEnd(5))];
  if (component !== undefined) parts.push(c("36", `[${String(component)}]`));
  parts.push(msg);
  for (const [k, v] of Object.entries(rest)) {
    if (v !== undefined) parts.push(`${c("2", `${k}=`)}${valueText(v)}`);
  }
  let line = parts.join(" ");
  if (typeof stack === "string") line += `\n${stack.replace(/^/gm, "    ")}`;
  return `${line}\n`;
}
