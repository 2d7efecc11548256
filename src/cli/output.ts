/**
 * What admin commands print on stdout: a table or key/value lines for people (colored on a
 * terminal that supports it), or with `--json` one JSON document in the REST API's snake_case shape.
 */
import { ansiStyle, type Style } from "../ansi.js";
import { colorWanted } from "../logger.js";

/** Where and how a command prints. */
export interface Output {
  /** `--json` was given: print {@link json} documents only. */
  readonly json: boolean;
  /** Styles for stdout (off when it is not a color terminal). */
  readonly style: Style;
  /** Prints text (a newline is added). */
  print(text: string): void;
}

/** The output of a command on the process's stdout. */
export function stdoutOutput(json: boolean): Output {
  return {
    json,
    style: ansiStyle(!json && colorWanted(process.stdout)),
    print: (text) => process.stdout.write(`${text}\n`),
  };
}

/** A value as pretty-printed JSON. */
export const jsonText = (v: unknown): string => JSON.stringify(v, null, 2);

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the ANSI escapes this module writes
const ANSI = /\u001b\[[0-9;]*m/g;
const width = (s: string) => s.replace(ANSI, "").length;

/** A table cell: text as it is, numbers right-aligned (formatted with thousands separators). */
export type Cell = string | number | undefined;

/** Formats a count for people: `12,345`. */
export const count = (n: number): string => n.toLocaleString("en-US");

/**
 * Lays out rows under headers in columns two spaces apart; numbers are right-aligned. `empty` is
 * printed instead when there are no rows.
 */
export function table(style: Style, headers: string[], rows: Cell[][], empty = "(none)"): string {
  if (rows.length === 0) return style.paint("2", empty);
  const text = rows.map((r) => r.map((c) => (c === undefined ? "" : typeof c === "number" ? count(c) : c)));
  const widths = headers.map((h, i) => Math.max(width(h), ...text.map((r) => width(r[i] ?? ""))));
  const numeric = headers.map((_, i) => rows.every((r) => r[i] === undefined || typeof r[i] === "number"));
  const pad = (s: string, i: number) => {
    const gap = " ".repeat(Math.max(0, widths[i]! - width(s)));
    return numeric[i] ? gap + s : s + gap;
  };
  const lines = [
    headers.map((h, i) => style.paint("1", i === headers.length - 1 && !numeric[i] ? h : pad(h, i))).join("  "),
  ];
  for (const r of text)
    lines.push(
      r
        .map((c, i) => pad(c, i))
        .join("  ")
        .trimEnd(),
    );
  return lines.join("\n");
}

/** `key  value` lines, keys aligned and dimmed; undefined values are left out. */
export function fields(style: Style, entries: [string, Cell][]): string {
  const shown = entries.filter(([, v]) => v !== undefined) as [string, string | number][];
  const w = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${style.paint("2", k.padEnd(w))}  ${typeof v === "number" ? count(v) : v}`).join("\n");
}

/** SGR color of a task state: green done, red failed, yellow retrying, cyan running, dim waiting. */
export function stateColor(state: string): string {
  switch (state) {
    case "complete":
      return "32";
    case "expired":
    case "terminated":
    case "unreachable":
    case "queue_error":
      return "31";
    case "retry":
      return "33";
    case "active":
      return "36";
    case "cancelled":
      return "35";
    default:
      return "2";
  }
}

/** A task state, colored. */
export const paintState = (style: Style, state: string): string => style.paint(stateColor(state), state);

/** An epoch-ms or RFC 3339 time as people read it: `2026-12-01 09:14:03` (UTC). */
export function when(t: string | number | undefined): string | undefined {
  if (t === undefined) return undefined;
  const d = new Date(t);
  return Number.isNaN(d.getTime())
    ? String(t)
    : d
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
}
