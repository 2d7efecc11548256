import { ValidationError } from "./errors.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Parses a duration given at an edge (CLI flag, HTTP body, header) into milliseconds.
 * Accepts a number of milliseconds or strings such as `"250ms"`, `"1.5s"`, `"5m"`, `"1h"`, `"7d"`.
 * @throws ValidationError (`invalid_duration`) for anything else, negative or non-finite values.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0)
      throw new ValidationError("invalid_duration", `invalid duration ${value}`);
    return value;
  }
  const m = DURATION.exec(value.trim());
  if (!m)
    throw new ValidationError(
      "invalid_duration",
      `invalid duration ${JSON.stringify(value)}: use e.g. 250ms, 5s, 5m, 1h, 1d`,
    );
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? "ms"] ?? 1));
}
