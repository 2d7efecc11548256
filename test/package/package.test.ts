/**
 * The published package, as a user gets it: built, packed, installed into an empty project (from
 * the npm cache when it has the dependencies), then imported. `JETQ_TEST_NODE=/path/to/node` runs
 * npm and the checks with another Node.js (e.g. one installed with `npm install node@22`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";

const root = new URL("../../", import.meta.url).pathname;
const node = process.env.JETQ_TEST_NODE ?? process.execPath;
const npmCli = join(dirname(process.execPath), "../lib/node_modules/npm/bin/npm-cli.js");

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

const npm = (args: string[], cwd: string) => run(node, [existsSync(npmCli) ? npmCli : "npm", ...args], cwd);

describe("the npm package", () => {
  let tmp: string;
  let files: string[];
  let project: string;
  let install: { code: number | null; out: string };
  const nodeMajor = Number(run(node, ["-p", "process.versions.node.split('.')[0]"], root).stdout.trim());

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "jetq-pkg-"));
    const build = npm(["run", "build"], root);
    assert.equal(build.code, 0, build.out);
    const pack = npm(["pack", "--json", "--pack-destination", tmp], root);
    assert.equal(pack.code, 0, pack.out);
    const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
    files = info.files.map((f) => f.path);
    project = join(tmp, "app");
    run("mkdir", ["-p", project], tmp);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module" }));
    install = npm(
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=warn", join(tmp, info.filename)],
      project,
    );
    assert.equal(install.code, 0, install.out);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("ships the build, LICENSE, CHANGELOG and README, the API page's files, and no sources or generated docs", () => {
    for (const f of [
      "LICENSE",
      "CHANGELOG.md",
      "README.md",
      "dist/index.js",
      "dist/cli/main.js",
      "dist/gateway/api-docs/swagger-ui-bundle.js",
    ])
      assert.ok(files.includes(f), `${f} is missing from the package`);
    assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("docs/api/") || f.startsWith("test/")));
    assert.match(readFileSync(join(root, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0/);
  });

  it("ships source maps whose sources resolve: embedded in the map, or a file in the package", () => {
    const maps = files.filter((f) => f.endsWith(".map"));
    assert.ok(maps.length > 10);
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(project, "node_modules/jetq", m), "utf8")) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      map.sources.forEach((s, i) => {
        const file = resolve(join(project, "node_modules/jetq", dirname(m)), s);
        assert.ok(typeof map.sourcesContent?.[i] === "string" || existsSync(file), `${m}: ${s} does not resolve`);
      });
    }
  });

  it("installs without better-sqlite3 and, from Node 22 on, without engine warnings", () => {
    assert.ok(!existsSync(join(project, "node_modules/better-sqlite3")), "the optional peer is not installed");
    const warnings = install.out.split("\n").filter((l) => l.includes("EBADENGINE") && l.includes("package:"));
    if (nodeMajor >= 22) assert.deepEqual(warnings, []);
    else
      assert.ok(
        warnings.every((w) => /@nats-io\/nuid|jetq@/.test(w)),
        warnings.join("\n"),
      );
  });

  it("imports as ESM; jetq/outbox says how to install better-sqlite3; jetq/testing and the jetq command work", () => {
    writeFileSync(
      join(project, "check.mjs"),
      `
import assert from "node:assert/strict";
import { createRequire } from "node:module";
const jetq = await import("jetq");
assert.equal(typeof jetq.Client.connect, "function");
const { runHandler } = await import("jetq/testing");
const run = await runHandler(async (t) => t.payload * 2, { type: "double", payload: 21 });
assert.equal(run.result, 42);
const { Outbox } = await import("jetq/outbox");
assert.throws(() => Outbox.open("./x.db"), (e) => e.code === "missing_dependency" && /npm install better-sqlite3/.test(e.message));
const [major, minor] = process.versions.node.split(".").map(Number);
if (major > 22 || (major === 22 && minor >= 12)) assert.equal(typeof createRequire(import.meta.url)("jetq").Client, "function");
console.log("ok");
`,
    );
    const check = run(node, ["check.mjs"], project);
    assert.equal(check.code, 0, check.out);
    assert.match(check.stdout, /^ok$/m);
    const version = run(node, [join(project, "node_modules/.bin/jetq"), "--version"], project);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version);
  });
});
