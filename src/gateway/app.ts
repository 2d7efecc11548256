import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { DashboardService } from "../dashboard/dashboard-service.js";
import { errorMessage } from "../errors.js";
import { API_DOCS_PATH, registerApiDocs } from "./api-docs.js";
import { type BearerTokens, bearerAuth } from "./auth.js";
import { CONTROL_PATHS, registerControlRoutes } from "./control-routes.js";
import { type DashboardUiOptions, isDashboardShell, registerDashboardRoutes } from "./dashboard-routes.js";
import { DEAD_LETTER_PATHS, registerDeadLetterRoutes } from "./dead-letter-routes.js";
import { EMQ_PATHS, registerEmqRoutes } from "./emq-routes.js";
import { HEALTH_PATHS, type ReadinessChecks, registerHealthRoutes } from "./health-routes.js";
import { httpErrorOf } from "./http-errors.js";
import { REQUEST_ABORTED } from "./request-body.js";
import { REST_PATHS, registerRestRoutes } from "./rest-routes.js";
import type { RouteDeps } from "./route-deps.js";
import { registerTaskListRoutes, TASK_LIST_PATHS } from "./task-list-routes.js";

/** Everything {@link buildApp} needs. */
export interface AppDeps extends RouteDeps {
  tokens: BearerTokens;
  /** True once the gateway is stopping: new requests are refused with 503 `shutting_down`. */
  stopping: () => boolean;
  /** Version shown in the OpenAPI document. */
  version: string;
  /** The task index and dashboard data of `jetq serve`; without it `/v1/tasks` answers 503 and there is no `/ui`. */
  dashboard?: DashboardService;
  /** Dashboard settings. @defaultValue on, not read-only */
  ui?: DashboardUiOptions;
  /** Aborted when the gateway stops (live streams end). */
  closing: AbortSignal;
  /** Readiness checks `/readyz` adds to its own (NATS, streams). @defaultValue none */
  readiness?: ReadinessChecks;
}

/** Path of the OpenAPI document. */
export const OPENAPI_PATH = "/v1/openapi.json";

const HTTP_CODES: Record<number, string> = {
  400: "bad_request",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  413: "body_too_large",
  415: "unsupported_media_type",
};

/**
 * Builds the gateway's hono app: bearer auth, the emq endpoints, the `/v1` REST API and
 * its OpenAPI document; every error is answered as JSON `{error, message}` (5xx only for server faults).
 */
export function buildApp(d: AppDeps): OpenAPIHono {
  const app = new OpenAPIHono({ strict: true });
  const { log } = d;

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      return c.json({ error: HTTP_CODES[status] ?? "http_error", message: err.message || "request failed" }, status);
    }
    const { status, body } = httpErrorOf(err);
    if (body.error === REQUEST_ABORTED) {
      log.debug("client closed the connection mid-request", { method: c.req.method, path: c.req.path });
      return c.json(body, 400);
    }
    if (status >= 500)
      log.error("HTTP request failed", {
        method: c.req.method,
        path: c.req.path,
        code: body.error,
        error: errorMessage(err),
        ...(body.error === "internal" && err instanceof Error ? { stack: err.stack } : {}),
      });
    return c.json(body, status as ContentfulStatusCode);
  });
  app.notFound((c) => c.json({ error: "not_found", message: `no endpoint ${c.req.method} ${c.req.path}` }, 404));

  // Before authentication: probes and the API reference page carry no token (see the modules).
  registerHealthRoutes(app, d);
  registerApiDocs(app, OPENAPI_PATH);
  app.use("*", async (c, next) => {
    if (!d.stopping()) return next();
    c.header("Connection", "close");
    return c.json({ error: "shutting_down", message: "the gateway is shutting down" }, 503);
  });
  const ui = d.dashboard !== undefined && d.ui?.enabled !== false;
  app.use("*", bearerAuth(d.tokens, ui ? isDashboardShell : undefined));

  registerEmqRoutes(app, d);
  registerTaskListRoutes(app, d.dashboard?.catalog);
  registerRestRoutes(app, d);
  registerControlRoutes(app, d);
  registerDeadLetterRoutes(app, d);
  if (d.dashboard && ui)
    registerDashboardRoutes(app, {
      dashboard: d.dashboard,
      readOnly: d.ui?.readOnly ?? false,
      auth: d.tokens.enabled,
      version: d.version,
      limits: d.limits,
      closing: d.closing,
    });

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "Required when the gateway is started with tokens (--http-token-file, JETQ_HTTP_TOKENS).",
  });
  let doc: unknown;
  app.get(OPENAPI_PATH, (c) => {
    doc ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "jetq HTTP gateway",
        version: d.version,
        description: "emq-compatible endpoints and the jetq REST API (/v1). See docs/http.md.",
      },
    });
    return c.json(doc, 200);
  });

  const notAllowed = (c: Context) =>
    c.json({ error: "method_not_allowed", message: `${c.req.method} is not allowed on ${c.req.path}` }, 405);
  for (const path of [
    ...EMQ_PATHS,
    ...TASK_LIST_PATHS,
    ...REST_PATHS,
    ...CONTROL_PATHS,
    ...DEAD_LETTER_PATHS,
    ...HEALTH_PATHS,
    OPENAPI_PATH,
    API_DOCS_PATH,
  ])
    app.all(path, notAllowed);
  return app;
}
