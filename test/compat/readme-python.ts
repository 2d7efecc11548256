/**
 * The Python examples of Gozo's README (../shared/seeds/gozo-readme.md), read at test time. The seed
 * copy of the README lost its line breaks (one line, whitespace collapsed), so the blocks are laid
 * out again: a line break before each statement of the examples and Python's indentation restored.
 * {@link readmeExamples} checks that only whitespace changed: the result, whitespace collapsed, equals
 * the seed's block. Nothing of the README is stored in this repository.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Where the seed README is: `shared/` beside the repository (`../shared` of a checkout or CI clone). */
export const GOZO_README = fileURLToPath(new URL("../../../shared/seeds/gozo-readme.md", import.meta.url));

// Statement starts of the examples; a comment runs until the next one (dict entries excepted).
const STATEMENT =
  /(?=\b(?:import |async def |print\(|nc = |sub = |headers = \{|await asyncio\.sleep|await nc\.publish|if __name__|asyncio\.run\())/g;

/** Lays one flattened block out as Python source. */
function layOut(flat: string): string {
  const lines: string[] = [];
  for (const part of flat.split(STATEMENT)) {
    // dict entries and the closing brace of `headers = { … }` go on lines of their own
    const hash = part.indexOf("#");
    const code = hash < 0 ? part : part.slice(0, hash);
    const pieces = code.split(/(?=\s'Gozo-)|(?=\s\}\s*$)/);
    if (hash >= 0) pieces[pieces.length - 1] += part.slice(hash);
    for (const p of pieces) if (p.trim()) lines.push(p.trim());
  }
  let depth = 0;
  return `${lines
    .map((line) => {
      if (/^(import |async def |if __name__)/.test(line)) depth = 0;
      if (line.startsWith("}")) depth = 1;
      const out = `${"    ".repeat(depth)}${line}`;
      if (/:\s*(#.*)?$/.test(line.replace(/'[^']*'/g, "''"))) depth++;
      else if (line.endsWith("{")) depth = 2;
      return out;
    })
    .join("\n")}\n`;
}

/** One example: its heading and its code, laid out. */
export interface ReadmeExample {
  title: string;
  code: string;
}

/** The README's Python blocks, in order. @throws Error when laying one out changed more than whitespace */
export function readmeExamples(path = GOZO_README): ReadmeExample[] {
  const text = readFileSync(path, "utf8");
  const out: ReadmeExample[] = [];
  const re = /```python\s+([\s\S]*?)```/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const flat = m[1] ?? "";
    const code = layOut(flat);
    const squash = (s: string) => s.replace(/\s+/g, " ").trim();
    const heading = text.slice(0, m.index).lastIndexOf("### ");
    const title =
      heading < 0
        ? `example ${out.length + 1}`
        : text
            .slice(heading + 4, m.index)
            .split(/[`.]/)[0]
            ?.trim();
    if (squash(code) !== squash(flat)) throw new Error(`laying out "${title}" changed its code`);
    out.push({ title: title ?? "", code });
  }
  return out;
}
