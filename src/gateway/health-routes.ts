/**
 * `/healthz` and `/readyz` for orchestrators (Kubernetes probes, load balancers). Both answer
 * without a bearer token: probes carry none, and the answers name only which checks pass, never
 * data. docs/http.md#health-checks.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { RouteDeps } from "./route-deps.js";

/** One readiness check: `ok`, or what is wrong. */
export type CheckResult = { ok: true; detail?: string } | { ok: false; detail: string };

/** Readiness checks beyond NATS and the streams, e.g. the scheduler's election (given by `jetq serve`). */
export type ReadinessChecks = () => Promise<Record<string, CheckResult>>;

/** Paths of these endpoints (hono style). */
export const HEALTH_PATHS = ["/healthz", "/readyz"];

/** How long one readiness check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 2000;

async function timed(what: string, work: Promise<unknown>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      work,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers `/healthz` (200 while the process serves HTTP) and `/readyz` (200 when NATS answers,
 * the task stream is reachable and every extra check passes; 503 with the failing checks otherwise,
 * and while the gateway stops). Register before authentication.
 */
export function registerHealthRoutes(
  app: OpenAPIHono,
  d: Pick<RouteDeps, "storage"> & { stopping: () => boolean; readiness?: ReadinessChecks },
): void {
  app.get("/healthz", (c) => c.json({ status: "ok" }, 200));
  app.get("/readyz", async (c) => {
    const { bus } = d.storage;
    const nats: CheckResult = bus.closed
      ? { ok: false, detail: "connection closed" }
      : await timed("NATS", bus.flush());
    const streams: CheckResult = nats.ok
      ? await timed("JetStream", d.storage.tasksInfo())
      : { ok: false, detail: "NATS is not reachable" };
    const checks: Record<string, CheckResult> = { nats, streams };
    Object.assign(
      checks,
      (await d.readiness?.().catch((err: Error) => ({ readiness: { ok: false, detail: err.message } }))) ?? {},
    );
    if (d.stopping()) checks.gateway = { ok: false, detail: "shutting down" };
    const ready = Object.values(checks).every((r) => r.ok);
    return c.json({ status: ready ? "ready" : "not_ready", checks }, ready ? 200 : 503);
  });
}
