#!/usr/bin/env node
// Installs what `npm start`, `npm test` and `npm run bench` need on a fresh machine:
// npm dependencies, and nats-server, redis-server (BullMQ's server, used by the benchmark and
// its smoke test in `npm test`) and chromium (the dashboard's tests drive it) from Debian's
// packages when they are missing and we run as root. Otherwise it says exactly what to install.
// For tests it also bundles the dashboard (dist/ui) when its sources changed since the last build.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

// redis-server is needed by the benchmarks, whose quick mode runs in the test suite (test/bench/).
const testsOrBench = process.argv.includes("--bench") || process.argv.includes("--test");
const say = (msg) => process.stderr.write(`[jetq setup] ${msg}\n`);

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

function npmDepsCurrent() {
  if (!existsSync("node_modules/.package-lock.json")) return false;
  const lock = existsSync("package-lock.json") ? statSync("package-lock.json").mtimeMs : 0;
  return statSync("node_modules/.package-lock.json").mtimeMs >= lock;
}

if (!npmDepsCurrent()) {
  // `npm install` rather than `npm ci`: it follows the lock file yet tolerates lock files written
  // with omit-lockfile-registry-resolved (which leave out other platforms' optional packages).
  say("installing npm dependencies (npm install)");
  execFileSync("npm", ["install", "--no-audit", "--no-fund"], { stdio: ["ignore", 2, 2] });
}

const debs = [["nats-server", "nats-server"]];
if (testsOrBench) debs.push(["redis-server", "redis-server"]);
// The dashboard's tests and benchmark drive Debian's Chromium (never a downloaded browser).
if (testsOrBench) debs.push(["/usr/bin/chromium", "chromium"]);
const missing = debs.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (missing.length > 0) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !has("apt-get")) {
    say(`missing: ${missing.join(", ")}. Install with: sudo apt-get install -y ${missing.join(" ")}`);
    process.exit(1);
  }
  say(`installing ${missing.join(", ")} from Debian packages`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", 2, 2], env });
  execFileSync("apt-get", ["install", "-y", "-qq", ...missing], { stdio: ["ignore", 2, 2], env });
}

// `npm start` builds everything itself; tests run from source but serve the bundled dashboard.
if (testsOrBench) {
  const built = existsSync("dist/ui/index.html") ? statSync("dist/ui/index.html").mtimeMs : 0;
  if (built < Math.max(newest("ui"), statSync("scripts/build-ui.mjs").mtimeMs)) {
    say("bundling the dashboard (dist/ui)");
    execFileSync(process.execPath, ["scripts/build-ui.mjs"], { stdio: ["ignore", 2, 2] });
  }
}
