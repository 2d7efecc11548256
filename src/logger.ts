import { pino } from "pino";

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/**
 * The logging interface every jetq component takes. Pass your own to route jetq's
 * logs into your application's logger; the default writes JSON lines to stderr via pino.
 */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/**
 * A pino-backed {@link Logger} writing to stderr (never stdout).
 * @param level minimum level; defaults to `JETQ_LOG_LEVEL` or `"info"`.
 */
export function createLogger(level = process.env.JETQ_LOG_LEVEL ?? "info"): Logger {
  return wrap(pino({ level, base: undefined }, pino.destination(2)));
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (msg, f) => p.debug(f ?? {}, msg),
    info: (msg, f) => p.info(f ?? {}, msg),
    warn: (msg, f) => p.warn(f ?? {}, msg),
    error: (msg, f) => p.error(f ?? {}, msg),
    child: (f) => wrap(p.child(f)),
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
