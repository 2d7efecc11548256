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
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  jsx: "automatic",
  jsxImportSource: "preact",
  entryNames: "[name]-[hash]",
  outdir: join(out, "assets"),
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const files = Object.keys(result.metafile.outputs).map((f) => basename(f));
const js = files.find((f) => f.endsWith(".js"));
const css = files.find((f) => f.endsWith(".css"));
if (!js || !css) throw new Error(`dashboard build produced ${files.join(", ")}`);
const page = readFileSync(join(root, "ui", "index.html"), "utf8")
  .replace("%JS%", js)
  .replace("%CSS%", css);
writeFileSync(join(out, "index.html"), page);
process.stderr.write(`[jetq build] dashboard: dist/ui/assets/${js}, ${css}\n`);
