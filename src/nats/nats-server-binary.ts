import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors.js";

/** Environment variable naming the `nats-server` binary to run (a path, or a command on PATH). */
export const NATS_SERVER_ENV = "JETQ_NATS_SERVER";

/**
 * The project's own tools directory, where `scripts/bootstrap.mjs` builds a pinned nats-server
 * (`<repo>/.tools/bin`; this module sits two levels below the repository root in `src/` and `dist/`).
 */
export const PROJECT_TOOLS_BIN = fileURLToPath(new URL("../../.tools/bin/", import.meta.url));

/** A runnable `nats-server` binary and the version it reports. */
export interface NatsServerBinary {
  /** Absolute path, or the command name when it was found on PATH. */
  path: string;
  /** The version it reports, without the `v`, e.g. `"2.14.10"`. */
  version: string;
}

const versions = new Map<string, string | null>();

/** The version `binary --version` reports (`"2.9.10"`), or null when it does not run. Cached per binary. */
export function natsServerVersion(binary: string): string | null {
  const known = versions.get(binary);
  if (known !== undefined) return known;
  const r = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const m = r.status === 0 ? /v?(\d+\.\d+\.\d+\S*)/.exec(r.stdout) : null;
  const version = m?.[1] ?? null;
  versions.set(binary, version);
  return version;
}

/** Compares dotted versions numerically (`"2.14.10"` > `"2.9.10"`); a pre-release suffix is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[-+]/)[0]?.split(".").map(Number) ?? [];
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** `nats-server` on PATH, as an absolute path, if there is one. */
function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, command);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function missing(what: string): ConfigError {
  return new ConfigError(
    "nats_server_missing",
    `${what} was not found or does not run; install nats-server ("apt-get install nats-server" on Debian/Ubuntu, ` +
      `or "node scripts/bootstrap.mjs" in a checkout with Go to build the pinned 2.14) or set ${NATS_SERVER_ENV}=/path/to/nats-server`,
  );
}

/**
 * Picks the `nats-server` to run: `explicit` (an option) when given, else `$JETQ_NATS_SERVER`,
 * else the newest of the project's tools directory ({@link PROJECT_TOOLS_BIN}) and `nats-server`
 * on PATH (the tools directory wins a tie).
 * @throws ConfigError (`nats_server_missing`) when the chosen or every candidate binary does not run
 */
export function resolveNatsServer(explicit?: string): NatsServerBinary {
  const chosen = explicit ?? process.env[NATS_SERVER_ENV];
  if (chosen) {
    const version = natsServerVersion(chosen);
    if (!version) throw missing(chosen);
    return { path: chosen, version };
  }
  const candidates = [join(PROJECT_TOOLS_BIN, "nats-server"), onPath("nats-server")].filter(
    (p): p is string => p !== undefined && existsSync(p),
  );
  let best: NatsServerBinary | undefined;
  for (const path of candidates) {
    const version = natsServerVersion(path);
    if (version && (!best || compareVersions(version, best.version) > 0)) best = { path, version };
  }
  if (!best) throw missing("nats-server");
  return best;
}
