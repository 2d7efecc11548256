#!/usr/bin/env node
/**
 * The module rules of `npm run check` (docs/architecture.md), on the import graph as it runs: every
 * module of src/ is compiled by esbuild, which drops type-only imports, so what remains is what
 * Node loads.
 *
 * - no import cycles;
 * - only the modules of src/jobs/storage/ import src/jobs/storage/handles.ts (a storage's raw NATS
 *   handles stay inside storage), and storage uses only the task model of src/jobs/ (not the engine);
 * - layers: storage imports nothing of the scheduler, outbox or the faces; the library (jobs, nats,
 *   outbox) imports nothing of the faces (gateway, dashboard, cli, server).
 *
 * Prints each violation and exits 1 when there is any.
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

/** Layer rules: a module under `from` may not import one under any of `not`. */
const LAYERS = [
  {
    from: "src/jobs/storage/",
    not: ["src/scheduler/", "src/outbox/", "src/gateway/", "src/dashboard/", "src/cli/", "src/server/"],
  },
  { from: "src/jobs/", not: ["src/gateway/", "src/dashboard/", "src/cli/", "src/server/"] },
  {
    from: "src/nats/",
    not: ["src/jobs/", "src/scheduler/", "src/outbox/", "src/gateway/", "src/dashboard/", "src/cli/", "src/server/"],
  },
  { from: "src/outbox/", not: ["src/gateway/", "src/dashboard/", "src/cli/", "src/server/"] },
];
const HANDLES = "src/jobs/storage/handles.ts";
/** The modules of src/jobs/ that storage may use: the task model, not the engine built on storage. */
const MODEL = new Set(
  ["task", "queue", "names", "events", "tracing", "task-observer", "id"].map((m) => `src/jobs/${m}.ts`),
);

function sources(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

const files = sources("src");
const result = await build({
  absWorkingDir: root,
  entryPoints: files,
  bundle: true,
  write: false,
  outdir: "/tmp/jetq-check-imports",
  platform: "node",
  format: "esm",
  packages: "external",
  metafile: true,
  logLevel: "error",
});

/** Module → the src/ modules it imports at run time. */
const graph = new Map();
for (const [file, input] of Object.entries(result.metafile.inputs)) {
  if (!file.startsWith("src/")) continue;
  graph.set(
    file,
    input.imports
      .filter((i) => !i.external && i.path.startsWith("src/"))
      .map((i) => relative(root, join(root, i.path))),
  );
}

const problems = [];
for (const [from, tos] of graph) {
  for (const to of tos) {
    if (from.startsWith("src/jobs/storage/") && /^src\/jobs\/[^/]+\.ts$/.test(to) && !MODEL.has(to))
      problems.push(
        `${from} imports ${to}: storage may use only the task model of src/jobs/ (${[...MODEL].join(", ")})`,
      );
    if (to === HANDLES && !from.startsWith("src/jobs/storage/"))
      problems.push(`${from} imports ${to}: only storage modules may reach a storage's NATS handles`);
    for (const layer of LAYERS) {
      if (!from.startsWith(layer.from)) continue;
      const bad = layer.not.find((n) => to.startsWith(n));
      if (bad) problems.push(`${from} imports ${to}: ${layer.from} may not depend on ${bad}`);
    }
  }
}

// Cycles: strongly connected components of more than one module (Tarjan), or a module importing itself.
let index = 0;
const stack = [];
const state = new Map();
function connect(v) {
  const s = { index, low: index, onStack: true };
  index++;
  state.set(v, s);
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    const t = state.get(w);
    if (!t) {
      connect(w);
      s.low = Math.min(s.low, state.get(w).low);
    } else if (t.onStack) s.low = Math.min(s.low, t.index);
  }
  if (s.low !== s.index) return;
  const component = [];
  let w;
  do {
    w = stack.pop();
    state.get(w).onStack = false;
    component.push(w);
  } while (w !== v);
  if (component.length > 1 || (graph.get(v) ?? []).includes(v))
    problems.push(`import cycle: ${component.sort().join(" ↔ ")}`);
}
for (const v of graph.keys()) if (!state.has(v)) connect(v);

if (problems.length > 0) {
  for (const p of problems) console.error(`check-imports: ${p}`);
  process.exit(1);
}
console.log(`check-imports: ${graph.size} modules, no cycles, layers and storage handles respected`);
