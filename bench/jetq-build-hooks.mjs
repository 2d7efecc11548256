// Module resolve hook of bench/jetq-build.ts: an import that resolves to a TypeScript file under
// `from` (the repository's src/) loads the compiled JavaScript file at the same place under `to`.
let from = "";
let to = "";

/** Receives the two directories (file URLs) from `register`. */
export function initialize(data) {
  from = `${data.from}/`;
  to = `${data.to}/`;
}

/** Resolves as usual, then swaps src/…/x.ts for <build>/…/x.js. */
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (!r.url.startsWith(from) || !r.url.endsWith(".ts")) return r;
  return { url: `${to}${r.url.slice(from.length, -3)}.js`, format: "module", shortCircuit: true };
}
