/**
 * The README's TypeScript examples compile against the library as written: each block is type-checked
 * as its own module, with the names it shares with earlier blocks (`client`, `router`, …) and the
 * values it leaves to the reader (`addresses`, `send`, …) declared.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

const root = new URL("../../", import.meta.url).pathname;

/** The ```ts blocks of a Markdown file, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const re = /^```ts\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown))
    blocks.push({ line: markdown.slice(0, m.index).split("\n").length, code: m[1]! });
  return blocks;
}

/** Names from `jetq` the examples use without importing them (an earlier block did). */
const SHARED_IMPORTS = [
  "Client",
  "Router",
  "newTask",
  "TerminateTask",
  "remoteHandler",
  "externalProcess",
  "SchedulerService",
  "createLogger",
  "type Task",
  "type Middleware",
];

/** Values the examples take as given. */
const GIVEN = `
declare const client: Client;
declare const router: Router;
declare const task: Task;
declare const a: Task;
declare const b: Task;
declare const ac: AbortController;
declare const addresses: string[];
declare const to: string;
declare const inv: { id: number };
declare const doc: string;
declare const logging: Middleware;
declare function isValid(payload: unknown): boolean;
declare function send(payload: unknown, opts: { signal: AbortSignal }): Promise<string>;
`;

function moduleOf(code: string): string {
  const lines = code.split("\n");
  const imports = lines.filter((l) => /^import /.test(l));
  const body = lines.filter((l) => !/^import /.test(l));
  const imported = new Set(imports.flatMap((l) => (/\{([^}]*)\}/.exec(l)?.[1] ?? "").split(",").map((n) => n.trim())));
  const shared = SHARED_IMPORTS.filter((n) => !imported.has(n.replace(/^type /, "")) && !imported.has(n));
  return [
    ...imports,
    `import { ${shared.join(", ")} } from "jetq";`,
    GIVEN,
    "export async function example(): Promise<void> {",
    ...body,
    "}",
  ].join("\n");
}

describe("README examples", () => {
  it("type-check as written", () => {
    const blocks = tsBlocks(readFileSync(join(root, "README.md"), "utf8"));
    assert.ok(blocks.length >= 5, "the README has its examples");
    const dir = mkdtempSync(join(root, ".readme-check-"));
    try {
      for (const [i, b] of blocks.entries()) writeFileSync(join(dir, `block-${i}-line-${b.line}.ts`), moduleOf(b.code));
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          extends: "../tsconfig.json",
          compilerOptions: {
            noEmit: true,
            rootDir: "..",
            paths: {
              jetq: ["../src/index.ts"],
              "jetq/outbox": ["../src/outbox/index.ts"],
              "jetq/server": ["../src/server/index.ts"],
              "jetq/testing": ["../src/testing/index.ts"],
            },
          },
          include: ["*.ts"],
        }),
      );
      const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", dir], {
        encoding: "utf8",
      });
      assert.equal(
        tsc.status,
        0,
        `README examples do not compile (file names give the line):\n${tsc.stdout}${tsc.stderr}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
