/**
 * The dashboard in a real Chromium against a real `jetq serve` (in-process, embedded nothing:
 * a nats-server of its own and the gateway on free ports).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { HttpGateway } from "../../src/gateway/http-server.js";
import { Client, newTask, Router, silentLogger, TerminateTask } from "../../src/index.js";
import { JetqService } from "../../src/server/jetq-service.js";
import { type Browser, launchChromium } from "../support/browser.js";
import { deferred, finalOutcomes, useNatsServer } from "../support/nats.js";

const nats = useNatsServer();
const TOKEN = "ui-test-token";

/** Waits until the element's text (trimmed) is `text`. */
async function waitText(page: Page, selector: string, text: string | RegExp): Promise<void> {
  await page.waitForFunction(
    ([sel, src, flags]) => {
      // Runs in the page (the test's own types have no DOM).
      const doc = (
        globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }
      ).document;
      const el = doc.querySelector(sel!);
      const t = el?.textContent?.trim() ?? "";
      return flags === undefined ? t === src : new RegExp(src!, flags).test(t);
    },
    typeof text === "string" ? [selector, text, undefined] : [selector, text.source, text.flags],
  );
}

/** What a fetch from inside the page answers (status, body). */
function fetchInPage(page: Page, path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
  return page.evaluate(
    async ([p, i]) => {
      const res = await fetch(p as string, {
        method: (i as { method?: string }).method ?? "GET",
        headers: {
          "Content-Type": "application/json",
          ...((i as { token?: string }).token ? { Authorization: `Bearer ${(i as { token: string }).token}` } : {}),
        },
        ...((i as { body?: unknown }).body !== undefined
          ? { body: JSON.stringify((i as { body: unknown }).body) }
          : {}),
      });
      return { status: res.status, body: await res.text() };
    },
    [path, init] as const,
  );
}

describe("the dashboard in Chromium", () => {
  let service: JetqService;
  let readOnly: HttpGateway;
  let browser: Browser;
  let page: Page;
  let client: Client;
  let base: string;
  const queue = "ui-q";
  const failOnce = new Set<string>();
  const blocker = { release: deferred(), started: deferred<string>(), lines: deferred() };
  let finals: ReturnType<typeof finalOutcomes>;
  let ac: AbortController;
  let running: Promise<void>;

  before(async () => {
    assert.ok(
      existsSync(new URL("../../dist/ui/index.html", import.meta.url)),
      "the dashboard is not built: run node scripts/bootstrap.mjs --test (npm test does)",
    );
    await nats.ready;
    service = new JetqService({
      nats: { servers: nats.server.url },
      http: { host: "127.0.0.1", port: 0, tokens: [TOKEN] },
      log: silentLogger,
    });
    await service.start();
    base = service.gateway!.url;
    client = await Client.connect({
      servers: nats.server.url,
      queue: { name: queue, maxTries: 1 },
      logger: silentLogger,
      concurrency: 2,
    });
    readOnly = new HttpGateway({
      engine: client.engine,
      dashboard: service.dashboard!,
      ui: { readOnly: true },
      tokens: [TOKEN],
      log: silentLogger,
      port: 0,
    });
    await readOnly.start();
    finals = finalOutcomes(client.events({ final: true, queue }));
    browser = await launchChromium();
    page = await browser.context.newPage();
  });
  after(async () => {
    ac?.abort();
    await running;
    finals?.close();
    await browser?.close();
    await client?.close();
    await readOnly?.stop();
    await service?.stop();
  });

  const startWorker = () => {
    ac = new AbortController();
    running = client.run(
      new Router()
        .handle("mail", async (t) => {
          const p = t.payload as { fail?: boolean };
          if (p.fail && !failOnce.has(t.id)) {
            failOnce.add(t.id);
            throw new TerminateTask("mailbox full");
          }
          return "sent";
        })
        .handle("long", async (t, ctx) => {
          await ctx.appendLog("step 1: started");
          blocker.started.resolve(t.id);
          await blocker.lines.promise;
          await ctx.appendLog("step 2: half way");
          await new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }),
          );
        }),
      { signal: ac.signal },
    );
  };

  it("shows nothing and does nothing without a token", async () => {
    await client.enqueue(newTask("mail", { to: "a@example.net" }));
    await page.goto(`${base}/ui/`);
    await page.getByTestId("token").waitFor();
    const text = await page.textContent("body");
    assert.ok(!text?.includes(queue), "no queue name before signing in");
    for (const path of ["/ui/api/overview", `/ui/api/queues/${queue}`, "/v1/tasks", "/ui/api/workers"]) {
      assert.equal((await fetchInPage(page, path)).status, 401, path);
    }
    const pause = await fetchInPage(page, "/ui/api/actions", { method: "POST", body: { action: "pause", queue } });
    assert.equal(pause.status, 401);
    const wrong = await fetchInPage(page, "/ui/api/actions", {
      method: "POST",
      body: { action: "pause", queue },
      token: "wrong",
    });
    assert.equal(wrong.status, 401);
    assert.equal((await client.queueControls(queue)).paused, undefined, "the queue was not paused");
    await page.getByTestId("token").fill("wrong");
    await page.getByTestId("sign-in").click();
    await page.getByText("That token was refused.").waitFor();
  });

  it("signs in, shows the overview and counts changing live as tasks are enqueued and processed", async () => {
    await page.getByTestId("token").fill(TOKEN);
    await page.getByTestId("sign-in").click();
    const row = `tr[data-queue="${queue}"]`;
    await waitText(page, `${row} td[data-col="waiting"]`, "1");
    await client.enqueueMany([newTask("mail", { to: "b" }), newTask("mail", { to: "c" })]);
    await waitText(page, `${row} td[data-col="waiting"]`, "3");
    startWorker();
    await waitText(page, `${row} td[data-col="complete"]`, "3");
    await waitText(page, `${row} td[data-col="waiting"]`, "0");
    await page.getByTestId("live").filter({ hasText: "live" }).waitFor();
  });

  it("pauses a queue from its page: the worker stops taking its tasks until resumed", async () => {
    await page.goto(`${base}/ui/queues/${queue}`);
    await page.getByTestId("pause").click();
    await page.locator(".view-head .badge", { hasText: "paused" }).waitFor();
    await waitUntilPaused(client, queue);
    const held = await client.enqueueMany([newTask("mail", { to: "d" }), newTask("mail", { to: "e" })]);
    await waitText(page, 'button[data-state="new"] .tab-count', "2");
    // Both are listed as waiting, from the queue's stream.
    for (const t of held) await page.locator(`tr[data-task="${t.id}"]`).waitFor();
    // Two more ticks of the live stream: still waiting.
    await ticks(service, 2);
    await waitText(page, 'button[data-state="new"] .tab-count', "2");
    for (const t of held) assert.equal((await client.loadTask(t.id)).state, "new");
    await page.goto(`${base}/ui/workers`);
    await page.locator(`table[data-testid="workers"] td`, { hasText: queue }).waitFor();
    await page.goto(`${base}/ui/queues/${queue}`);
    await page.getByTestId("resume").click();
    for (const t of held) await finals.reached(t.id);
    await waitText(page, 'button[data-state="new"] .tab-count', "0");
    await waitText(page, 'button[data-state="complete"] .tab-count', "5");
  });

  it("retries a dead letter", async () => {
    const t = await client.enqueue(newTask("mail", { fail: true }));
    await finals.reached(t.id);
    await page.goto(`${base}/ui/dead-letters/${queue}`);
    const row = page.locator(`tr[data-task="${t.id}"]`);
    await row.getByText("mailbox full").waitFor();
    const again = finalOutcomes(client.events({ final: true, queue }));
    try {
      await row.getByTestId("redrive").click();
      await again.reached(t.id);
    } finally {
      again.close();
    }
    await page.goto(`${base}/ui/tasks/${t.id}`);
    await waitText(page, '[data-testid="task-state"]', "complete");
    assert.equal((await client.loadTask(t.id)).state, "complete");
  });

  it("follows a running task's log live and cancels it", async () => {
    const t = await client.enqueue(newTask("long", { big: "x".repeat(10_000) }));
    assert.equal(await blocker.started.promise, t.id);
    await page.goto(`${base}/ui/tasks/${t.id}`);
    await waitText(page, '[data-testid="task-state"]', "active");
    await page.getByTestId("log").getByText("step 1: started").waitFor();
    await page.getByText(/Show all/).waitFor(); // the 10 kB payload is cut, with a toggle
    blocker.lines.resolve();
    await page.getByTestId("log").getByText("step 2: half way").waitFor();
    await page.getByTestId("cancel").click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await waitText(page, '[data-testid="task-state"]', "cancelled");
    await finals.reached(t.id);
    assert.equal((await client.loadTask(t.id)).state, "cancelled");
  });

  it("opens every view at its own URL", async () => {
    const schedules = await client.scheduledTasks();
    await schedules.create({ name: "nightly", schedule: "0 0 3 * * *", tz: "Europe/Paris", queue, type: "mail" });
    await page.goto(`${base}/ui/schedules`);
    await page.locator('table[data-testid="cron"]').getByText("nightly").waitFor();
    await page.getByText("Europe/Paris").first().waitFor();
    await page.goto(`${base}/ui/workers`);
    await page.locator('table[data-testid="serves"]').getByText("scheduler leader").waitFor();
    await page.goto(`${base}/ui/queues/${queue}?state=complete`);
    await page.locator('table[data-testid="tasks"] tbody tr').first().waitFor();
    await page.goto(`${base}/ui/`);
    await page.locator('[data-testid="chart-throughput"] canvas').waitFor();
    await page.goto(`${base}/ui/nowhere`);
    await page.getByText("There is no page at /nowhere.").waitFor();
  });

  it("in read-only mode hides and refuses every action", async () => {
    const ro = await browser.context.newPage();
    try {
      await ro.goto(`${readOnly.url}/ui/queues/${queue}`);
      await ro.getByTestId("token").fill(TOKEN);
      await ro.getByTestId("sign-in").click();
      await ro.locator(".view-head h1", { hasText: queue }).waitFor();
      await ro.getByText("read-only").waitFor();
      assert.equal(await ro.getByTestId("pause").count(), 0);
      assert.equal(await ro.locator(".bulk button").count(), 0);
      const done = await client.enqueue(newTask("mail", {}));
      await finals.reached(done.id);
      await ro.goto(`${readOnly.url}/ui/tasks/${done.id}`);
      await waitText(ro, '[data-testid="task-state"]', "complete");
      assert.equal(await ro.locator(".view-head button").count(), 0, "no retry, delete or redrive");
      for (const body of [
        { action: "pause", queue },
        { action: "delete_task", id: done.id },
      ]) {
        const r = await fetchInPage(ro, "/ui/api/actions", { method: "POST", body, token: TOKEN });
        assert.equal(r.status, 403);
        assert.match(r.body, /read_only/);
      }
      const bulk = await fetchInPage(ro, `/ui/api/queues/${queue}/bulk`, {
        method: "POST",
        body: { op: "delete", state: "complete" },
        token: TOKEN,
      });
      assert.equal(bulk.status, 403);
      assert.equal((await client.loadTask(done.id)).state, "complete");
    } finally {
      await ro.close();
    }
  });
});

/** Resolves after `n` ticks of the dashboard's live updates (one a second). */
function ticks(service: JetqService, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const stop = service.dashboard!.follow({}, (u) => {
      if (u.kind === "tick" && ++seen === n) {
        stop();
        resolve();
      }
    });
  });
}

/** Resolves once the queue's stored controls say paused (what workers follow). */
async function waitUntilPaused(c: Client, queue: string): Promise<void> {
  for (;;) {
    if ((await c.queueControls(queue)).paused) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}
