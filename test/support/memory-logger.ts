import type { LogFields, Logger } from "../../src/logger.js";

/** A logger that keeps its lines in memory, so a failing test can show what the code under test said. */
export function memoryLogger(lines: string[] = [], base: LogFields = {}): Logger & { lines: string[] } {
  const write = (level: string) => (msg: string, fields?: LogFields) => {
    lines.push(`${new Date().toISOString()} ${level} ${msg} ${JSON.stringify({ ...base, ...fields })}`);
  };
  return {
    lines,
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (f) => memoryLogger(lines, { ...base, ...f }),
  };
}
