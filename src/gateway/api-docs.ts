/**
 * The interactive API reference at `/v1/docs`: Swagger UI over `/v1/openapi.json`, served from the
 * package (no CDN, works offline). The Swagger UI files are copied next to this module by
 * `npm run build` (scripts/copy-api-docs.mjs); a source checkout serves them from `swagger-ui-dist`.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { OpenAPIHono } from "@hono/zod-openapi";

/** Path of the API reference page. */
export const API_DOCS_PATH = "/v1/docs";

/** The Swagger UI files the page loads, with their content types. */
export const API_DOCS_ASSETS: Record<string, string> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};

/** Where the Swagger UI files are: copied beside the built module, or in `swagger-ui-dist`. */
function assetsDir(): string | undefined {
  const copied = join(dirname(fileURLToPath(import.meta.url)), "api-docs");
  if (existsSync(join(copied, "swagger-ui-bundle.js"))) return copied;
  try {
    return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  } catch {
    return undefined;
  }
}

/** The page: Swagger UI on the OpenAPI document; a bearer token asked once is kept for the session. */
function page(specPath: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jetq HTTP API</title>
<link rel="stylesheet" href="${API_DOCS_PATH}/swagger-ui.css">
<style>body { margin: 0 } #token { font: 14px sans-serif; padding: 8px 16px; background: #fafafa; border-bottom: 1px solid #ddd }</style>
</head>
<body>
<div id="token" hidden>This gateway needs a bearer token: <input id="t" type="password" size="40"> <button id="go">Use</button></div>
<div id="ui"></div>
<script src="${API_DOCS_PATH}/swagger-ui-bundle.js"></script>
<script>
const key = "jetq-api-token";
const withToken = (req) => {
  const t = sessionStorage.getItem(key);
  if (t) req.headers.Authorization = "Bearer " + t;
  return req;
};
fetch(${JSON.stringify(specPath)}, { headers: withToken({ headers: {} }).headers }).then((r) => {
  if (r.status === 401) {
    document.getElementById("token").hidden = false;
    document.getElementById("go").onclick = () => {
      sessionStorage.setItem(key, document.getElementById("t").value.trim());
      location.reload();
    };
    return;
  }
  SwaggerUIBundle({ url: ${JSON.stringify(specPath)}, dom_id: "#ui", requestInterceptor: withToken, deepLinking: true });
});
</script>
</body>
</html>
`;
}

/**
 * Registers the API reference page and its files (public: the page holds no data; the OpenAPI
 * document it loads keeps the gateway's authentication). Without the Swagger UI files the page
 * answers 404 `api_docs_unavailable`.
 */
export function registerApiDocs(app: OpenAPIHono, specPath: string): void {
  const dir = assetsDir();
  const cache = new Map<string, Buffer>();
  const unavailable = { error: "api_docs_unavailable", message: "the Swagger UI files are not installed" };
  app.get(API_DOCS_PATH, (c) => (dir ? c.html(page(specPath)) : c.json(unavailable, 404)));
  app.get(`${API_DOCS_PATH}/:file`, (c) => {
    const file = c.req.param("file");
    const type = Object.hasOwn(API_DOCS_ASSETS, file) ? API_DOCS_ASSETS[file] : undefined;
    if (!dir || type === undefined) return c.json({ error: "not_found", message: `no file ${file}` }, 404);
    let body = cache.get(file);
    if (!body) {
      body = readFileSync(join(dir, file));
      cache.set(file, body);
    }
    return c.body(new Uint8Array(body), 200, { "content-type": type, "cache-control": "public, max-age=86400" });
  });
}
