/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, and self
 * time by origin (jetq's src/, each package in node_modules, node internals, GC).
 *
 * ```sh
 * node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts --only process-c100 --sides jetq
 * npx tsx bench/profile-top.ts /tmp/prof/CPU.*.cpuprofile [--top 30]
 * ```
 */
import { readFileSync } from "node:fs";

/** The parts of the `.cpuprofile` format this tool reads. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function or origin. */
export interface Entry {
  name: string;
  ms: number;
  share: number;
}

/** Where a script URL comes from: `src/…`, a package name, `node:internal` or `(program)`-like. */
export function origin(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return nm[1];
  const src = /\/(src|bench|test)\/(.*)$/.exec(url);
  if (src?.[1] && src[2]) return `${src[1]}/${src[2].split("/").slice(0, -1).join("/") || "."}`;
  if (url.startsWith("node:")) return "node internals";
  return url;
}

/** Self time per function and per origin of a profile, largest first. */
export function summarise(p: CpuProfile): { functions: Entry[]; origins: Entry[]; totalMs: number } {
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  const byFn = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (ms === 0) continue;
    total += ms;
    const { functionName, url, lineNumber } = n.callFrame;
    const file = url.replace(/^.*\/(node_modules|src|bench|test)\//, "$1/");
    const key = `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
    byFn.set(key, (byFn.get(key) ?? 0) + ms);
    const o = origin(url, functionName);
    byOrigin.set(o, (byOrigin.get(o) ?? 0) + ms);
  }
  const entries = (m: Map<string, number>) =>
    [...m.entries()].map(([name, ms]) => ({ name, ms, share: ms / total })).sort((a, b) => b.ms - a.ms);
  return { functions: entries(byFn), origins: entries(byOrigin), totalMs: total };
}

function main(argv: string[]): void {
  const topAt = argv.indexOf("--top");
  const top = topAt >= 0 ? Number(argv[topAt + 1]) : 25;
  const files = argv.filter((a, i) => a !== "--top" && i !== topAt + 1);
  if (files.length === 0) {
    process.stderr.write("usage: tsx bench/profile-top.ts <file.cpuprofile>… [--top N]\n");
    process.exit(2);
  }
  for (const f of files) {
    const s = summarise(JSON.parse(readFileSync(f, "utf8")) as CpuProfile);
    const line = (e: Entry) =>
      `${e.ms.toFixed(0).padStart(8)} ms ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.name}`;
    process.stdout.write(`${f}: ${s.totalMs.toFixed(0)} ms sampled\n\nby origin:\n`);
    process.stdout.write(`${s.origins.slice(0, 15).map(line).join("\n")}\n\ntop functions by self time:\n`);
    process.stdout.write(`${s.functions.slice(0, top).map(line).join("\n")}\n\n`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop() ?? "")) main(process.argv.slice(2));
