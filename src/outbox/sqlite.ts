/**
 * better-sqlite3, loaded when the first outbox is opened. It is an optional peer dependency of
 * jetq (28 MB of native code that only outbox users need): install it next to jetq to use
 * `jetq/outbox`.
 */
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import { ConfigError } from "../errors.js";

let loaded: typeof BetterSqlite3 | undefined;

/**
 * The better-sqlite3 module. @throws ConfigError (`missing_dependency`) when it is not installed
 * (or cannot load its native part), saying how to install it
 */
export function sqlite(): typeof BetterSqlite3 {
  if (loaded) return loaded;
  try {
    loaded = createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
    return loaded;
  } catch (err) {
    throw new ConfigError(
      "missing_dependency",
      `jetq/outbox needs the better-sqlite3 package, which is not installed or does not load: run "npm install better-sqlite3" (${(err as Error).message.split("\n")[0]})`,
      { cause: err },
    );
  }
}
