#!/usr/bin/env node
// Copies the Swagger UI files of the API reference page (/v1/docs) into the build, so the
// published package serves them without depending on swagger-ui-dist (src/gateway/api-docs.ts).
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const from = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const to = new URL("../dist/gateway/api-docs/", import.meta.url).pathname;
mkdirSync(to, { recursive: true });
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"])
  copyFileSync(join(from, file), join(to, file));
