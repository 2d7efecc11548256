#!/usr/bin/env node
// Installs what `npm start`, `npm test` and `npm run bench` need on a fresh machine:
// - npm dependencies;
// - nats-server 2.9 (the oldest server jetq supports), redis-server (BullMQ's server, used by the
//   benchmark and its smoke test in `npm test`) and, for `--test` and `--bench`, chromium (the
//   dashboard's tests and benchmark drive it; no browser is ever downloaded) from Debian's packages
//   when missing and we run as root; otherwise it says exactly what to install;
// - for `--test`, the dashboard's bundle (dist/ui) when ui/ changed since it was built;
// - into .tools/ (git-ignored, once per checkout; Go's and Cargo's caches make a second checkout on the
//   same machine quick): a pinned nats-server 2.14 built with `go install` when Go is present and, for
//   `--test` and `--bench`, the real peers jetq is measured and checked against (asyncjobs through our
//   bench/peers/asyncjobs program, emq, Gozo) and a Python venv with nats-py for the Gozo README examples.
// A build that fails is recorded in .tools/state.json with its reason and not retried until its pinned
// version changes (or JETQ_REBUILD=1); the tests and the benchmark print that reason where they skip.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const TOOLS = join(ROOT, ".tools");
const BIN = join(TOOLS, "bin");
const STATE = join(TOOLS, "state.json");

/** Pinned versions: the newest 2.14.x the Go module proxy served when pinned, and the peers of issue 13. */
export const PINS = {
  natsServer: "github.com/nats-io/nats-server/v2@v2.14.10",
  // emq has no tags: the pseudo-version of commit 0dc6217 ("stricter validation", 2020-07-23 20:27:51 UTC).
  emq: "github.com/eugene-eeo/emq@v0.0.0-20200723202751-0dc62179cf4e",
  gozo: "gozo@0.1.1",
  natsPy: "nats-py==2.16.0",
};

const wantPeers = process.argv.includes("--bench") || process.argv.includes("--test");
const say = (msg) => process.stderr.write(`[jetq setup] ${msg}\n`);
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

function has(cmd) {
  if (cmd.startsWith("/")) return existsSync(cmd);
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Newest modification time of the files under `dir` (0 when it does not exist). */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** A command on PATH, else the first of `fallbacks` that exists. */
function findTool(cmd, fallbacks) {
  if (has(cmd)) return cmd;
  return fallbacks.find((p) => existsSync(p));
}

function npmDepsCurrent() {
  if (!existsSync("node_modules/.package-lock.json")) return false;
  const lock = existsSync("package-lock.json") ? statSync("package-lock.json").mtimeMs : 0;
  return statSync("node_modules/.package-lock.json").mtimeMs >= lock;
}

process.chdir(ROOT);
if (!npmDepsCurrent()) {
  // `npm install` rather than `npm ci`: it follows the lock file yet tolerates lock files written
  // with omit-lockfile-registry-resolved (which leave out other platforms' optional packages).
  say("installing npm dependencies (npm install)");
  execFileSync("npm", ["install", "--no-audit", "--no-fund"], { stdio: ["ignore", 2, 2] });
}

const debs = [["nats-server", "nats-server"]];
if (wantPeers) debs.push(["redis-server", "redis-server"], ["/usr/bin/chromium", "chromium"]);
const missing = debs.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (missing.length > 0) {
  if (!isRoot || !has("apt-get")) {
    say(`missing: ${missing.join(", ")}. Install with: sudo apt-get install -y ${missing.join(" ")}`);
    process.exit(1);
  }
  say(`installing ${missing.join(", ")} from Debian packages`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", 2, 2], env });
  execFileSync("apt-get", ["install", "-y", "-qq", ...missing], { stdio: ["ignore", 2, 2], env });
}

// ---- .tools: builds recorded in state.json ----

function readState() {
  try {
    return JSON.parse(readFileSync(STATE, "utf8"));
  } catch {
    return {};
  }
}
const state = readState();
const saveState = () => writeFileSync(STATE, `${JSON.stringify(state, null, 2)}\n`);

/** The last lines of a failed command's output, as one line. */
function reasonOf(r) {
  if (r.error) return r.error.message;
  const out = `${r.stderr ?? ""}\n${r.stdout ?? ""}`.trim().split("\n").filter(Boolean);
  return out.slice(-3).join(" | ").slice(0, 500) || `exit code ${r.status}`;
}

/**
 * Builds tool `name` unless `output` exists and state.json records the same `spec`. `run()` does the
 * build and returns a spawnSync result. A recorded failure of the same spec is not retried unless
 * JETQ_REBUILD=1. `about` says what is built and roughly how long it takes on 2 cores.
 */
function build(name, spec, output, about, run) {
  const prev = state[name];
  if (prev?.spec === spec && !process.env.JETQ_REBUILD) {
    if (prev.ok && existsSync(output)) return;
    if (!prev.ok) {
      say(`${name}: not available (${prev.reason}); set JETQ_REBUILD=1 to try again`);
      return;
    }
  }
  say(`building ${name} (${about}); once per checkout…`);
  mkdirSync(BIN, { recursive: true });
  const t0 = Date.now();
  const r = run();
  const seconds = Math.round((Date.now() - t0) / 1000);
  const ok = r.status === 0 && !r.error && existsSync(output);
  state[name] = { spec, ok, seconds, at: new Date().toISOString(), ...(ok ? {} : { reason: reasonOf(r) }) };
  saveState();
  say(ok ? `built ${name} in ${seconds} s` : `${name} could not be built (${state[name].reason})`);
}

const run = (cmd, args, env = {}, cwd = ROOT) =>
  spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 20 * 60_000,
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });

const go = findTool("go", ["/usr/local/go/bin/go", join(homedir(), "go/bin/go")]);
const cargo = findTool("cargo", [join(homedir(), ".cargo/bin/cargo")]);
const python = findTool("python3", []);

/** Records that a tool cannot be built here because its toolchain is missing. */
function noToolchain(name, spec, toolchain) {
  if (state[name]?.spec === spec && state[name]?.ok) return;
  state[name] = { spec, ok: false, reason: `${toolchain} is not installed`, at: new Date().toISOString() };
  saveState();
  say(`${name}: skipped, ${toolchain} is not installed`);
}

mkdirSync(TOOLS, { recursive: true });
if (go) {
  build(
    "nats-server",
    PINS.natsServer,
    join(BIN, "nats-server"),
    `${PINS.natsServer} with go install into .tools/bin, about 1–2 min`,
    () => run(go, ["install", PINS.natsServer], { GOBIN: BIN }),
  );
} else noToolchain("nats-server", PINS.natsServer, "Go");

if (wantPeers) {
  if (go) {
    const src = join(ROOT, "bench/peers/asyncjobs");
    const digest = createHash("sha256");
    for (const f of ["go.mod", "go.sum", "main.go"]) digest.update(readFileSync(join(src, f)));
    build(
      "asyncjobs",
      `bench/peers/asyncjobs sha256:${digest.digest("hex").slice(0, 16)}`,
      join(BIN, "jetq-bench-asyncjobs"),
      "our benchmark program on github.com/choria-io/asyncjobs, go build, about 1–2 min",
      () => run(go, ["build", "-o", join(BIN, "jetq-bench-asyncjobs"), "."], { GOFLAGS: "-mod=readonly" }, src),
    );
    build("emq", PINS.emq, join(BIN, "emq"), `${PINS.emq} with go install, under 1 min`, () =>
      run(go, ["install", PINS.emq], { GOBIN: BIN }),
    );
  } else {
    noToolchain("asyncjobs", "bench/peers/asyncjobs", "Go");
    noToolchain("emq", PINS.emq, "Go");
  }
  if (cargo) {
    const [crate, version] = PINS.gozo.split("@");
    build("gozo", PINS.gozo, join(BIN, "gozo"), `crate ${crate} ${version} with cargo install, a few minutes`, () =>
      run(cargo, [
        "install",
        crate,
        "--version",
        version,
        "--locked",
        "--root",
        TOOLS,
        // a per-machine build cache, so a second checkout does not compile the crate again
        "--target-dir",
        join(homedir(), ".cache/jetq/cargo-target"),
      ]),
    );
  } else noToolchain("gozo", PINS.gozo, "Rust (cargo)");
  if (python) {
    const venv = join(TOOLS, "venv");
    build(
      "nats-py",
      PINS.natsPy,
      join(venv, "bin/python"),
      `a Python venv in .tools/venv with ${PINS.natsPy} from PyPI, a few seconds`,
      () => {
        const mk = run(python, ["-m", "venv", "--clear", venv]);
        if (mk.status !== 0) return mk;
        const pip = run(join(venv, "bin/pip"), ["install", "--quiet", "--disable-pip-version-check", PINS.natsPy]);
        return pip.status === 0 ? pip : { ...pip, status: pip.status ?? 1 };
      },
    );
  } else noToolchain("nats-py", PINS.natsPy, "Python 3");
}

// `npm start` builds everything itself; tests run from the sources but serve the bundled dashboard.
if (process.argv.includes("--test")) {
  const built = existsSync("dist/ui/index.html") ? statSync("dist/ui/index.html").mtimeMs : 0;
  if (built < Math.max(newest("ui"), statSync("scripts/build-ui.mjs").mtimeMs)) {
    say("bundling the dashboard (dist/ui)");
    execFileSync(process.execPath, ["scripts/build-ui.mjs"], { stdio: ["ignore", 2, 2] });
  }
}
