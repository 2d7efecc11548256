import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";

/** Files read at start-up; `./jetq.env` beats `/etc/jetq.env`, and the real environment beats both. */
export const ENV_FILES = ["/etc/jetq.env", "./jetq.env"];

/**
 * Copies `KEY=value` lines of the env files into `env` for keys it does not already have.
 * Missing files are skipped.
 */
export function applyEnvFiles(files: string[] = ENV_FILES, env: NodeJS.ProcessEnv = process.env): void {
  const fromFiles: Record<string, string> = {};
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    Object.assign(fromFiles, parseEnv(text));
  }
  for (const [k, v] of Object.entries(fromFiles)) if (env[k] === undefined) env[k] = v;
}
