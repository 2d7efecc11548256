/**
 * Which nats-server binaries a benchmark run uses: the ones named with `--nats-server`, every version
 * found with `--both`, or else the one the tests would pick (the newest found).
 */
import { isAbsolute, join, relative } from "node:path";
import {
  compareVersions,
  type NatsServerBinary,
  natsServerVersion,
  PROJECT_TOOLS_BIN,
  resolveNatsServer,
} from "../src/nats/nats-server-binary.js";
import type { BenchOptions } from "./options.js";
import { REPO_ROOT } from "./repo-root.js";

/**
 * The key results are filed under for a server version: major.minor (`"2.14.10"` → `"2.14"`), so
 * patch releases of one server share their previous results.
 */
export function serverKey(version: string): string {
  return version.split(/[-+]/)[0]?.split(".").slice(0, 2).join(".") ?? version;
}

/**
 * Every distinct nats-server version found: the project's pinned build in `.tools/bin` and
 * `nats-server` on PATH (what `scripts/test.mjs` runs the suite on), newest first.
 */
export function installedNatsServers(): NatsServerBinary[] {
  const found: NatsServerBinary[] = [];
  for (const path of [join(PROJECT_TOOLS_BIN, "nats-server"), "nats-server"]) {
    const version = natsServerVersion(path);
    if (version && !found.some((b) => b.version === version)) found.push({ path, version });
  }
  return found.sort((a, b) => compareVersions(b.version, a.version));
}

/** `path` relative to the repository when it is inside it (for tables and committed results). */
export function shownPath(path: string): string {
  const rel = relative(REPO_ROOT, path);
  return isAbsolute(path) && !rel.startsWith("..") ? rel : path;
}

/**
 * The servers to run on, in order. @throws ConfigError (`nats_server_missing`) when a named binary
 * does not run or none is found
 */
export function benchNatsServers(o: Pick<BenchOptions, "natsServers" | "both">): NatsServerBinary[] {
  if (o.natsServers.length > 0) return o.natsServers.map((p) => resolveNatsServer(p));
  if (o.both) {
    const all = installedNatsServers();
    return all.length > 0 ? all : [resolveNatsServer()];
  }
  return [resolveNatsServer()];
}
