// Module resolve hook of bench/jetq-build.ts: an import that resolves to a TypeScript file under
// one of the registered `from` directories (a checkout's src/) loads the compiled JavaScript file
// at the same place under its `to`. Each `register` call adds one such pair.
const mappings = [];

/** Receives one pair of directories (file URLs) from `register`. */
export function initialize(data) {
  mappings.push({ from: `${data.from}/`, to: `${data.to}/` });
}

/** Resolves as usual, then swaps <checkout>/src/…/x.ts for <build>/…/x.js. */
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (!r.url.endsWith(".ts")) return r;
  const m = mappings.find((p) => r.url.startsWith(p.from));
  if (!m) return r;
  return { url: `${m.to}${r.url.slice(m.from.length, -3)}.js`, format: "module", shortCircuit: true };
}
