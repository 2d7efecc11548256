/**
 * Which jetq the bench measures. By default the package as its users run it: the sources compiled
 * by `tsc -p tsconfig.build.json` into a fresh directory `.bench-build-<pid>/`, with every
 * import of `src/…/*.ts` in this process answered by the compiled `….js` (a module resolve hook,
 * `jetq-build-hooks.mjs`), and `jetq serve` children started from there with plain `node`.
 *
 * Why not the sources: tsx, which runs the harness, compiles TypeScript with esbuild's `keepNames`,
 * which wraps every function and class jetq creates in a `__name(…)` call. On the worker's hot path
 * that cost ~8% of its CPU per job (2026-12-03, drain c=100: 60 µs against 55 µs per job) — a cost
 * the published package never pays, and the peers (BullMQ) run compiled too. `--source` measures
 * the sources through tsx instead.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { register } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "./repo-root.js";

/**
 * The bench's builds of jetq: one git-ignored directory per bench process, beside `dist/` at the
 * repository's root, so that what the package finds relative to itself (`../.tools/bin`, the
 * dashboard's `dist/ui`, `package.json`) it finds there too.
 */
const BUILD_DIR = /^\.bench-build-(\d+)$/;

/** What the bench runs of jetq in this process. */
export interface JetqBuild {
  /** `built`: the compiled package; `source`: the TypeScript sources through tsx. */
  kind: "built" | "source";
  /** The directory of the compiled package (`built` only). */
  dir?: string;
}

let current: JetqBuild = { kind: "source" };

/** Whether a process id is alive. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the builds of bench processes that are gone (a run killed before it could clean up). */
function removeStaleBuilds(root: string): void {
  for (const name of readdirSync(root)) {
    const pid = BUILD_DIR.exec(name)?.[1];
    if (pid && !alive(Number(pid))) rmSync(join(root, name), { recursive: true, force: true });
  }
}

/**
 * Makes this process measure the compiled package of the checkout at `root` (this repository, or
 * another checkout for `bench/ab.ts`): builds it and installs the resolve hook for its `src/` (call
 * before any of its modules is loaded). The build is removed when the process exits.
 * @throws Error with tsc's output when the build fails
 */
export function useBuiltJetq(root = REPO_ROOT): JetqBuild {
  removeStaleBuilds(root);
  const dir = join(root, `.bench-build-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [tsc, "-p", "tsconfig.build.json", "--outDir", dir, "--sourceMap", "false", "--inlineSources", "false"],
    { cwd: root, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`building jetq for the bench failed:\n${r.stdout}${r.stderr}`);
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  register("./jetq-build-hooks.mjs", {
    parentURL: import.meta.url,
    data: { from: pathToFileURL(join(root, "src")).href, to: pathToFileURL(dir).href },
  });
  process.stderr.write(
    `[bench] jetq built with tsc into ${dir} (${Date.now() - t0} ms); measuring the compiled package\n`,
  );
  current = { kind: "built", dir };
  return current;
}

/** What this process measures of jetq. */
export function jetqBuild(): JetqBuild {
  return current;
}

/** The `node` arguments that start the `jetq` CLI of what this process measures. */
export function jetqCliArgs(): string[] {
  return current.dir ? [join(current.dir, "cli", "main.js")] : ["--import", "tsx", "src/cli/main.ts"];
}
