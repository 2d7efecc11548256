import type { OpenAPIHono, z } from "@hono/zod-openapi";
import { ErrorBody } from "./schemas.js";

/** Error statuses an endpoint may answer, each with the `{error, message}` body. */
const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input (see `error` for the code)",
  401: "Missing or invalid bearer token",
  404: "Not found",
  405: "Method not allowed",
  413: "Request body or task payload too large",
  503: "Storage unavailable or shutting down",
};

/** How one endpoint is described in the OpenAPI document. */
export interface EndpointDoc {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** OpenAPI path (`{param}` style). */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success status and reply schema. */
  ok: { status: 200 | 201; schema: z.ZodType; description: string };
  /** Error statuses beyond 400/401/413/503, which every endpoint may answer. */
  errors?: number[];
}

/** Registers an endpoint in the app's OpenAPI registry (the same schemas validate its requests). */
export function documentEndpoint(app: OpenAPIHono, d: EndpointDoc): void {
  const errors = [...new Set([400, 401, 413, 503, ...(d.errors ?? [])])].sort();
  const responses: Record<string, { description: string; content: { "application/json": { schema: z.ZodType } } }> = {
    [d.ok.status]: { description: d.ok.description, content: { "application/json": { schema: d.ok.schema } } },
  };
  for (const s of errors)
    responses[s] = { description: ERROR_TEXT[s] ?? "Error", content: { "application/json": { schema: ErrorBody } } };
  app.openAPIRegistry.registerPath({
    method: d.method,
    path: d.path,
    tags: [d.tag],
    summary: d.summary,
    ...(d.description ? { description: d.description } : {}),
    security: [{ bearer: [] }, {}],
    request: {
      ...(d.params ? { params: d.params } : {}),
      ...(d.query ? { query: d.query } : {}),
      ...(d.body ? { body: { required: true, content: { "application/json": { schema: d.body } } } } : {}),
    },
    responses,
  });
}
