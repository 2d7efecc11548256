import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { describe, it } from "node:test";
import { Client, newTask, silentLogger } from "../../src/index.js";
import { connectNats } from "../../src/nats/connect.js";
import { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { SchedulerService } from "../../src/scheduler/scheduler-service.js";
import { useNatsServer } from "../support/nats.js";
import { startServe } from "../support/serve-process.js";
import { storageOn } from "../support/storage.js";
import { startGateway, uniq } from "./gateway-support.js";

const nats = useNatsServer();

/** The URL a `jetq serve` child logged for `msg` (JSON log lines). */
function loggedUrl(log: string, msg: string): string {
  for (const line of log.split("\n")) {
    if (!line.includes(msg)) continue;
    const entry = JSON.parse(line) as { url?: string };
    if (entry.url) return entry.url;
  }
  throw new Error(`no ${msg} in:\n${log}`);
}

describe("health checks, API reference page, central metrics", () => {
  it("answers /healthz and /readyz without a token, and 503 naming the failing check", async () => {
    await nats.ready;
    let schedulerOk = true;
    const g = await startGateway(nats.server, {
      tokens: ["s3cret"],
      readiness: async () => ({
        scheduler: schedulerOk ? { ok: true, detail: "leader" } : { ok: false, detail: "no scheduler is elected" },
      }),
    });
    try {
      assert.deepEqual((await g.call("GET", "/healthz")).body, { status: "ok" });
      const ready = await g.call("GET", "/readyz");
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, {
        status: "ready",
        checks: { nats: { ok: true }, streams: { ok: true }, scheduler: { ok: true, detail: "leader" } },
      });
      schedulerOk = false;
      const notReady = await g.call("GET", "/readyz");
      assert.equal(notReady.status, 503);
      assert.deepEqual((notReady.body as { checks: { scheduler: unknown } }).checks.scheduler, {
        ok: false,
        detail: "no scheduler is elected",
      });
      assert.equal((await g.call("GET", "/v1/queues")).status, 401, "everything else still needs the token");
      assert.equal((await g.call("POST", "/readyz")).status, 401, "only GET of the probes is public");
    } finally {
      await g.close();
    }
  });

  it("reports NATS as not ready while its server is down", async () => {
    const own = await new NatsServerLauncher().start();
    const g = await startGateway(own);
    try {
      assert.equal((await g.call("GET", "/readyz")).status, 200);
      await own.kill();
      const down = await g.call("GET", "/readyz");
      assert.equal(down.status, 503);
      const checks = (down.body as { checks: Record<string, { ok: boolean }> }).checks;
      assert.deepEqual([checks.nats?.ok, checks.streams?.ok], [false, false]);
      assert.equal((await g.call("GET", "/healthz")).status, 200, "the process is still up");
    } finally {
      await own.start();
      await g.close();
      await own.stop();
    }
  });

  it("serves an interactive API reference from the package, which Chromium renders offline", async () => {
    await nats.ready;
    const g = await startGateway(nats.server);
    try {
      const html = await g.call("GET", "/v1/docs");
      assert.equal(html.status, 200);
      assert.match(String(html.body), /<script src="\/v1\/docs\/swagger-ui-bundle\.js">/);
      assert.doesNotMatch(String(html.body), /https?:\/\//, "nothing is loaded from elsewhere");
      const js = await fetch(`${g.url}/v1/docs/swagger-ui-bundle.js`);
      assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.match(await js.text(), /SwaggerUIBundle/);
      assert.equal((await g.call("GET", "/v1/docs/constructor")).status, 404);
      assert.equal((await g.call("GET", "/v1/docs/..%2Fpackage.json")).status, 404);

      const chromium = spawn(
        "chromium",
        [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--virtual-time-budget=10000",
          "--dump-dom",
          `${g.url}/v1/docs`,
        ],
        { stdio: ["ignore", "pipe", "ignore"] },
      );
      let dom = "";
      chromium.stdout.on("data", (d: Buffer) => {
        dom += d.toString();
      });
      await once(chromium, "close");
      assert.match(dom, /class="opblock/, "Swagger UI rendered the operations");
      assert.match(dom, /\/v1\/queues\/\{queue\}\/pause/);
    } finally {
      await g.close();
    }
  });

  it("jetq serve: /readyz follows the scheduler election; --metrics exports every queue's gauges", async () => {
    await nats.ready;
    const nc = await connectNats({ servers: nats.server.url });
    const leader = new SchedulerService({
      storage: await storageOn(nc),
      log: silentLogger,
      name: `leader-${randomUUID()}`,
    });
    await leader.start();
    const q = uniq();
    const producer = await Client.connect({ servers: nats.server.url, queue: q, logger: silentLogger });
    await producer.enqueueMany([1, 2, 3].map((n) => newTask("t", n)));
    const serve = await startServe(["-a", nats.server.url, "--metrics", "127.0.0.1:0"]);
    try {
      const http = loggedUrl(serve.log(), "HTTP gateway listening");
      const ready = (await (await fetch(`${http}/readyz`)).json()) as { checks: { scheduler: { detail: string } } };
      assert.match(ready.checks.scheduler.detail, /^following leader-/);
      const metrics = await (await fetch(loggedUrl(serve.log(), "metrics listening"))).text();
      assert.match(
        metrics,
        new RegExp(`^jetq_queue_depth\\{queue="${q}"\\} 3$`, "m"),
        "a queue no worker of serve used",
      );
      assert.match(metrics, new RegExp(`^jetq_dead_letters\\{queue="${q}"\\} 0$`, "m"));
    } finally {
      await serve.kill();
      await producer.close();
      await leader.stop();
      await nc.close();
    }
  });
});
