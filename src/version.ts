import { readFileSync } from "node:fs";

function readVersion(): string {
  // From src/ (tsx) and from dist/ (built) alike, package.json is one folder up.
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** The version of this jetq package (from its package.json; `0.0.0` when unreadable). */
export const JETQ_VERSION: string = readVersion();
