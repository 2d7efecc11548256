/** ANSI terminal styles (SGR codes), applied only when `on` is true. */
export interface Style {
  /** Whether styles are applied. */
  readonly on: boolean;
  /** `text` in SGR style `code` (e.g. `"31"` red, `"2"` dim, `"1"` bold). */
  paint(code: string, text: string): string;
}

/** A {@link Style} that colors when `on` is true and passes text through otherwise. */
export function ansiStyle(on: boolean): Style {
  return { on, paint: (code, text) => (on ? `\u001b[${code}m${text}\u001b[0m` : text) };
}
