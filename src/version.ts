import { readFileSync } from "node:fs";

let version: string | undefined;

/** jetq's version, from its package.json (`"0.0.0"` when that cannot be read). */
export function jetqVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
        version?: unknown;
      };
      version = typeof pkg.version === "string" ? pkg.version : "0.0.0";
    } catch {
      version = "0.0.0";
    }
  }
  return version;
}
