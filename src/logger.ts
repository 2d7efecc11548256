import { pino } from "pino";
import { ConfigError } from "./errors.js";
import { formatPrettyLine, LOG_LEVELS, type LogLevel } from "./pretty-log.js";

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/**
 * The logging interface every jetq component takes. Pass your own to route jetq's
 * logs into your application's logger; the default writes to stderr (see {@link createLogger}).
 */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (a key given again replaces the parent's value). */
  child(fields: LogFields): Logger;
}

/** How {@link createLogger} writes lines: readable text, JSON lines, or pretty on a terminal only. */
export type LogFormat = "pretty" | "json" | "auto";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level: `debug`, `info`, `warn` or `error`. @defaultValue `JETQ_LOG_LEVEL`, else `"info"` */
  level?: string;
  /**
   * `pretty`: one readable line per entry (time, level, component, message, fields); `json`: one
   * JSON object per line (`level` as a word, `time` RFC 3339), for log collectors; `auto`: pretty
   * when stderr is a terminal, else JSON. @defaultValue `JETQ_LOG_FORMAT`, else `"auto"`
   */
  format?: string;
  /** Color the pretty format. @defaultValue when stderr is a terminal and `NO_COLOR` is unset */
  color?: boolean;
  /** Where pretty lines go (tests). @defaultValue stderr */
  write?: (line: string) => void;
}

function parseLevel(v: string): LogLevel {
  const level = v.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new ConfigError("invalid_log_level", `log level must be one of ${LOG_LEVELS.join(", ")}, got ${v}`);
  return level as LogLevel;
}

function parseFormat(v: string): LogFormat {
  const format = v.trim().toLowerCase();
  if (format !== "pretty" && format !== "json" && format !== "auto")
    throw new ConfigError("invalid_log_format", `log format must be pretty, json or auto, got ${v}`);
  return format;
}

/** True when the terminal may be colored (a TTY, `NO_COLOR` unset, not a dumb terminal; `FORCE_COLOR` wins). */
export function colorWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/**
 * jetq's default {@link Logger}, writing to stderr (never stdout): readable lines on a terminal,
 * JSON lines (via pino) otherwise. Each key appears once per line: fields of a line replace the
 * same keys of its logger's `child` bindings.
 * @param opts options, or just the minimum level (as before)
 * @throws ConfigError (`invalid_log_level`, `invalid_log_format`)
 */
export function createLogger(opts: LoggerOptions | string = {}): Logger {
  const o = typeof opts === "string" ? { level: opts } : opts;
  const level = parseLevel(o.level ?? process.env.JETQ_LOG_LEVEL ?? "info");
  const format = parseFormat(o.format ?? process.env.JETQ_LOG_FORMAT ?? "auto");
  const pretty = format === "pretty" || (format === "auto" && process.stderr.isTTY === true);
  if (pretty) {
    const color = o.color ?? colorWanted(process.stderr);
    const write = o.write ?? ((line: string) => process.stderr.write(line));
    const min = LOG_LEVELS.indexOf(level);
    return bound({}, (lvl, msg, fields) => {
      if (LOG_LEVELS.indexOf(lvl) >= min) write(formatPrettyLine(lvl, msg, fields, { color }));
    });
  }
  const p = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination(2),
  );
  return bound({}, (lvl, msg, fields) => p[lvl](fields, msg));
}

type Sink = (level: LogLevel, msg: string, fields: LogFields) => void;

/** A logger over `sink` whose lines carry `bindings` merged with their own fields (theirs win). */
function bound(bindings: LogFields, sink: Sink): Logger {
  const at = (level: LogLevel) => (msg: string, f?: LogFields) =>
    sink(level, msg, f ? { ...bindings, ...f } : bindings);
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (f) => bound({ ...bindings, ...f }, sink),
  };
}

/** A {@link Logger} that discards everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
