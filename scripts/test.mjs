#!/usr/bin/env node
// Runs the whole test suite once per nats-server version we support: the newest one found (the pinned
// 2.14 that scripts/bootstrap.mjs builds into .tools/bin) and Debian's 2.9 on PATH (the oldest
// version we promise), each pass printing which server it ran on. With JETQ_NATS_SERVER set, only that
// server is used. Arguments are test files (default: test/*/*.test.ts).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const say = (msg) => process.stderr.write(`[jetq test] ${msg}\n`);

function version(binary) {
  const r = spawnSync(binary, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? (/v?(\d+\.\d+\.\d+\S*)/.exec(r.stdout)?.[1] ?? null) : null;
}

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** Why .tools has no nats-server, from the bootstrap's record. */
function toolsReason() {
  try {
    const s = JSON.parse(readFileSync(join(ROOT, ".tools/state.json"), "utf8"))["nats-server"];
    return s?.reason ?? "not built";
  } catch {
    return "not built (run node scripts/bootstrap.mjs)";
  }
}

function servers() {
  const explicit = process.env.JETQ_NATS_SERVER;
  if (explicit) return [{ path: explicit, version: version(explicit), why: "JETQ_NATS_SERVER" }];
  const out = [];
  const tools = join(ROOT, ".tools/bin/nats-server");
  if (existsSync(tools) && version(tools)) out.push({ path: tools, version: version(tools), why: "project tools" });
  else say(`no nats-server in .tools/bin: ${toolsReason()}; the modern-server pass is skipped`);
  const system = onPath("nats-server");
  const sv = system ? version(system) : null;
  if (system && sv && !out.some((s) => s.version === sv)) out.push({ path: system, version: sv, why: "PATH" });
  return out;
}

const files =
  process.argv.length > 2
    ? process.argv.slice(2)
    : readdirSync(join(ROOT, "test"), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .flatMap((d) =>
          readdirSync(join(ROOT, "test", d.name))
            .filter((f) => f.endsWith(".test.ts"))
            .map((f) => `test/${d.name}/${f}`),
        )
        .sort();

const passes = servers();
if (passes.length === 0) {
  say("no runnable nats-server found: install one (apt-get install nats-server) or run node scripts/bootstrap.mjs");
  process.exit(1);
}
const results = [];
for (const [i, s] of passes.entries()) {
  say(`pass ${i + 1}/${passes.length}: nats-server ${s.version} (${s.path}, ${s.why}), ${files.length} files`);
  const t0 = Date.now();
  // --test-timeout bounds each test file as well as each test: the benchmark smoke tests start the
  // peers' programs, which takes minutes on a loaded machine; a test that hangs still fails.
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=300000", ...files],
    { cwd: ROOT, stdio: "inherit", env: { ...process.env, JETQ_NATS_SERVER: s.path } },
  );
  const seconds = Math.round((Date.now() - t0) / 1000);
  results.push({ ...s, code: r.status ?? 1, seconds });
  say(`pass ${i + 1}/${passes.length} on nats-server ${s.version}: ${r.status === 0 ? "ok" : "FAILED"} (${seconds} s)`);
}
for (const r of results) say(`nats-server ${r.version}: ${r.code === 0 ? "ok" : "FAILED"} in ${r.seconds} s`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
