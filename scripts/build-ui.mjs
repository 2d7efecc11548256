#!/usr/bin/env node
// Bundles the dashboard (ui/) into dist/ui: one JS and one CSS file with content hashes, and the
// page that loads them. Everything it needs is in the package: nothing is fetched at run time.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "ui");
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

const result = await build({
  entryPoints: [join(root, "ui", "src", "main.tsx")],
  bundle: true,
  // The chart library is a chunk of its own, loaded after the first render.
  splitting: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  jsx: "automatic",
  jsxImportSource: "preact",
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  outdir: join(out, "assets"),
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint?.endsWith("main.tsx"));
const js = entry && basename(entry[0]);
const css = entry?.[1].cssBundle && basename(entry[1].cssBundle);
if (!js || !css) throw new Error(`dashboard build produced ${Object.keys(result.metafile.outputs).join(", ")}`);
const page = readFileSync(join(root, "ui", "index.html"), "utf8")
  .replace("%JS%", js)
  .replace("%CSS%", css);
writeFileSync(join(out, "index.html"), page);
process.stderr.write(`[jetq build] dashboard: dist/ui/assets/${js}, ${css}\n`);
