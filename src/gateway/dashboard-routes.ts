/**
 * The web dashboard of `jetq serve` at `/ui` (docs/dashboard.md): the page and its bundled assets
 * (public: they hold no data), and its JSON API under `/ui/api` (behind the gateway's bearer
 * tokens like every other endpoint) with live updates as server-sent events. With `readOnly`
 * every action answers 403 `read_only`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { DashboardService } from "../dashboard/dashboard-service.js";
import type { DashboardAction } from "../dashboard/dashboard-store.js";
import type { QueueView } from "../dashboard/dashboard-views.js";
import { validateId, validateQueueName } from "../jobs/names.js";
import { TaskState } from "../jobs/task.js";
import { HttpError } from "./http-errors.js";
import type { GatewayLimits } from "./limits.js";
import { intQuery } from "./query-params.js";
import { jsonBody } from "./request-body.js";
import { QueueName, TaskId } from "./schemas.js";
import { queueView } from "./views.js";

/** Settings of the dashboard. */
export interface DashboardUiOptions {
  /** Serve the dashboard at `/ui`. @defaultValue true */
  enabled?: boolean;
  /** Hide every action and refuse them (403 `read_only`). @defaultValue false */
  readOnly?: boolean;
}

/** What the dashboard routes need. */
export interface DashboardRouteDeps {
  dashboard: DashboardService;
  readOnly: boolean;
  /** Whether the gateway asks for bearer tokens (the page then prompts for one). */
  auth: boolean;
  version: string;
  limits: Pick<GatewayLimits, "bodyBytes" | "jsonDepth">;
  /** Aborted when the gateway stops: live streams end. */
  closing: AbortSignal;
}

/** True for the paths of the dashboard page and its assets, which need no token. */
export function isDashboardShell(path: string): boolean {
  return path === "/ui" || (path.startsWith("/ui/") && !path.startsWith("/ui/api/") && path !== "/ui/api");
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};

/** The built page and assets (`npm run build` writes them to dist/ui), read once. */
function loadAssets(): Map<string, Buffer> | undefined {
  // From dist/gateway/ (built) and from src/gateway/ (run from source) alike.
  for (const rel of ["../ui/", "../../dist/ui/"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    try {
      const files = new Map<string, Buffer>();
      files.set("index.html", readFileSync(join(dir, "index.html")));
      for (const f of readdirSync(join(dir, "assets"))) files.set(`assets/${f}`, readFileSync(join(dir, "assets", f)));
      return files;
    } catch {
      // not built there
    }
  }
  return undefined;
}

const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

const ActionBody = z.discriminatedUnion("action", [
  z.strictObject({
    action: z.enum(["pause", "resume", "purge_queue", "redrive_all", "purge_dead_letters"]),
    queue: QueueName,
  }),
  z.strictObject({
    action: z.literal("set_rate_limit"),
    queue: QueueName,
    limit: z.strictObject({ limit: z.number().int(), interval_ms: z.number().int() }).nullable(),
  }),
  z.strictObject({ action: z.enum(["cancel_task", "retry_task", "delete_task"]), id: TaskId }),
  z.strictObject({ action: z.enum(["redrive", "purge_dead_letter"]), queue: QueueName, id: TaskId }),
  z.strictObject({ action: z.literal("cancel_schedule"), id: z.string().min(1).max(256) }),
  z.strictObject({
    action: z.enum(["pause_cron", "resume_cron", "remove_cron"]),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  }),
]);

const BulkBody = z.strictObject({
  op: z.enum(["retry", "cancel", "delete"]),
  state: z.enum(Object.values(TaskState) as [TaskState, ...TaskState[]]),
  limit: z.number().int().min(1).max(500).optional(),
});

function toAction(b: z.infer<typeof ActionBody>): DashboardAction {
  if (b.action === "set_rate_limit")
    return {
      action: b.action,
      queue: b.queue,
      limit: b.limit === null ? null : { limit: b.limit.limit, intervalMs: b.limit.interval_ms },
    };
  return b;
}

/** Registers `/ui` and `/ui/api/*` on `app`. */
export function registerDashboardRoutes(app: OpenAPIHono, d: DashboardRouteDeps): void {
  const { dashboard } = d;
  const assets = loadAssets();
  const page = (c: Context) => {
    if (!assets)
      return c.text("The dashboard is not built: run `npm run build` (it writes dist/ui).", 503, SECURITY_HEADERS);
    return c.body(new Uint8Array(assets.get("index.html")!), 200, {
      ...SECURITY_HEADERS,
      "Content-Type": TYPES[".html"]!,
      "Cache-Control": "no-cache",
    });
  };
  const writable = () => {
    if (d.readOnly) throw new HttpError(403, "read_only", "the dashboard is read-only (--ui-read-only)");
  };
  const queueOf = (c: Context) => validateQueueName(c.req.param("queue"));

  app.get("/ui/assets/:file", (c) => {
    const file = assets?.get(`assets/${c.req.param("file")}`);
    if (!file) return c.json({ error: "not_found", message: "no such asset" }, 404);
    return c.body(new Uint8Array(file), 200, {
      ...SECURITY_HEADERS,
      "Content-Type": TYPES[extname(c.req.param("file"))] ?? "application/octet-stream",
      "Cache-Control": "public, max-age=31536000, immutable",
    });
  });

  app.get("/ui/api/config", (c) => c.json({ version: d.version, read_only: d.readOnly, auth: d.auth }, 200));
  app.get("/ui/api/overview", async (c) => c.json(await dashboard.overview(), 200));
  app.get("/ui/api/queues/:queue", async (c) => {
    const { definition, ...q } = await dashboard.queue(queueOf(c));
    const view: QueueView = { ...q, config: queueView(definition) };
    return c.json(view, 200);
  });
  app.get("/ui/api/series", async (c) => {
    const q = c.req.query("queue");
    return c.json(dashboard.seriesOf(q === undefined ? undefined : validateQueueName(q)), 200);
  });
  app.get("/ui/api/tasks/:id", async (c) => c.json(await dashboard.task(validateId(c.req.param("id"))), 200));
  app.get("/ui/api/dead-letters/:queue", async (c) => {
    const limit = intQuery(c, "limit", 50, 1, 1000);
    const after = intQuery(c, "after", 0, 0, Number.MAX_SAFE_INTEGER);
    return c.json(await dashboard.deadLetters(queueOf(c), limit, after), 200);
  });
  app.get("/ui/api/schedules", async (c) => {
    const limit = intQuery(c, "limit", 100, 1, 1000);
    const after = intQuery(c, "after", 0, 0, Number.MAX_SAFE_INTEGER);
    return c.json(await dashboard.schedules(limit, after), 200);
  });
  app.get("/ui/api/workers", async (c) => c.json(await dashboard.workers(), 200));

  app.post("/ui/api/actions", async (c) => {
    writable();
    const b = await jsonBody(c, ActionBody, d.limits);
    return c.json({ result: await dashboard.act(toAction(b)) }, 200);
  });
  app.post("/ui/api/queues/:queue/bulk", async (c) => {
    writable();
    const queue = queueOf(c);
    const b = await jsonBody(c, BulkBody, d.limits);
    return c.json(await dashboard.bulk(queue, b.op, b.state, b.limit ?? 100), 200);
  });

  app.get("/ui/api/live", (c) => {
    const queue = c.req.query("queue");
    const task = c.req.query("task");
    const filter = {
      ...(queue !== undefined ? { queue: validateQueueName(queue) } : {}),
      ...(task !== undefined ? { task: validateId(task) } : {}),
    };
    return streamSSE(c, async (stream) => {
      let closed = false;
      let wake: () => void = () => undefined;
      const ended = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const end = () => {
        closed = true;
        wake();
      };
      // One write at a time; a viewer that cannot keep up misses updates rather than piling them up.
      let writing = false;
      const stop = dashboard.follow(filter, (u) => {
        if (closed || (writing && u.kind === "tick")) return;
        writing = true;
        stream
          .writeSSE({ event: u.kind, data: JSON.stringify(u.data) })
          .catch(end)
          .finally(() => {
            writing = false;
          });
      });
      stream.onAbort(end);
      d.closing.addEventListener("abort", end, { once: true });
      const ping = setInterval(() => void stream.write(": ping\n\n").catch(end), 15_000);
      await stream.writeSSE({ event: "hello", data: JSON.stringify({ at: Date.now() }) });
      await ended;
      clearInterval(ping);
      stop();
      d.closing.removeEventListener("abort", end);
    });
  });

  app.get("/ui", page);
  app.get("/ui/*", (c) => {
    if (c.req.path.startsWith("/ui/api/") || c.req.path.startsWith("/ui/assets/"))
      return c.json({ error: "not_found", message: `no endpoint ${c.req.method} ${c.req.path}` }, 404);
    return page(c);
  });
}
