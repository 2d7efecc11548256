/**
 * Where the real peers live: the binaries `scripts/bootstrap.mjs` builds into the git-ignored
 * `.tools/` directory, or one named by an environment variable, and why a peer is missing (the
 * bootstrap's record in `.tools/state.json`). The benchmark and the compatibility tests share it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../repo-root.js";

/** The project's tools directory. */
export const TOOLS_DIR = join(REPO_ROOT, ".tools");

/** A peer program jetq is compared with or checked against. */
export type PeerTool = "asyncjobs" | "emq" | "gozo" | "nats-py";

const BINARIES: Record<PeerTool, { file: string; env: string; what: string }> = {
  asyncjobs: { file: "bin/jetq-bench-asyncjobs", env: "JETQ_ASYNCJOBS_BENCH", what: "bench/peers/asyncjobs" },
  emq: { file: "bin/emq", env: "JETQ_EMQ", what: "emq" },
  gozo: { file: "bin/gozo", env: "JETQ_GOZO", what: "Gozo" },
  "nats-py": { file: "venv/bin/python", env: "JETQ_PYTHON", what: "Python with nats-py" },
};

/** A peer's binary, or why there is none. */
export type PeerLookup = { path: string } | { reason: string };

/**
 * Finds `tool`: `$JETQ_<TOOL>` when set (e.g. `JETQ_EMQ=/path/to/emq`), else the bootstrap's build in
 * `.tools/`; otherwise says why it is missing, quoting what the bootstrap recorded.
 */
export function findPeer(tool: PeerTool): PeerLookup {
  const b = BINARIES[tool];
  const fromEnv = process.env[b.env];
  if (fromEnv) return existsSync(fromEnv) ? { path: fromEnv } : { reason: `${b.env}=${fromEnv} does not exist` };
  const path = join(TOOLS_DIR, b.file);
  if (existsSync(path)) return { path };
  let recorded: { reason?: string; spec?: string } | undefined;
  try {
    recorded = (JSON.parse(readFileSync(join(TOOLS_DIR, "state.json"), "utf8")) as Record<string, typeof recorded>)[
      tool
    ];
  } catch {
    // no state file: the bootstrap has not run
  }
  const why = recorded?.reason
    ? `could not be built (${recorded.spec ?? tool}): ${recorded.reason}`
    : "is not built (run node scripts/bootstrap.mjs --test)";
  return { reason: `${b.what} ${why}; or set ${b.env}=/path` };
}
