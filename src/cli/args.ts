/** Reading command-line values: numbers, durations, times and JSON, each refused with `invalid_argument`. */
import { readFileSync } from "node:fs";
import { parseDuration } from "../duration.js";
import { ValidationError } from "../errors.js";

const bad = (message: string) => new ValidationError("invalid_argument", message);

/** A whole number ≥ `min`. @throws ValidationError (`invalid_argument`) */
export function intArg(what: string, v: string, min = 1): number {
  const n = /^\d{1,15}$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!(n >= min)) throw bad(`${what} must be an integer >= ${min}, got ${v}`);
  return n;
}

/** A duration: milliseconds, or `250ms`, `5s`, `5m`, `1h`, `7d`. @throws ValidationError (`invalid_argument`) */
export function durationArg(what: string, v: string): number {
  try {
    return parseDuration(/^\d+$/.test(v.trim()) ? Number(v) : v);
  } catch (err) {
    throw bad(`${what}: ${(err as Error).message}`);
  }
}

/** A point in time: RFC 3339, epoch ms, or `+<duration>` from now. @throws ValidationError (`invalid_argument`) */
export function timeArg(what: string, v: string, now = Date.now()): number {
  if (v.startsWith("+")) return now + durationArg(what, v.slice(1));
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw bad(`${what} must be an RFC 3339 time, epoch ms or +duration, got ${v}`);
  return t;
}

/** Parses JSON text. @throws ValidationError (`invalid_argument`) naming where it came from */
export function jsonArg(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw bad(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The text of a file, or of stdin for `-`. @throws ValidationError (`invalid_argument`) */
export function readInput(path: string): string {
  try {
    return readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (err) {
    throw bad(`cannot read ${path === "-" ? "stdin" : path}: ${(err as Error).message}`);
  }
}

/** Collects a repeatable option's values (`--header a=1 --header b=2`). */
export const collect = (v: string, all: string[] = []): string[] => [...all, v];
