import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import { JetqService } from "../../src/server/jetq-service.js";
import { finalOutcomes, useNatsServer, waitUntil } from "../support/nats.js";

const nats = useNatsServer();

describe("jetq serve runs every background part", () => {
  // Hooks of this suite run inside the file's server hooks: the service stops before NATS does.
  let service: JetqService;
  before(async () => {
    await nats.ready;
    service = new JetqService({
      nats: { servers: nats.server.url },
      http: false,
      metrics: { host: "127.0.0.1", port: 0 },
      log: silentLogger,
    });
    await service.start();
  });
  after(async () => {
    await service.stop();
  });

  it("fires task schedules, releases dependants and serves metrics", async () => {
    const c = await Client.connect({ servers: nats.server.url, queue: "svc", logger: silentLogger });
    const finals = finalOutcomes(c.events({ final: true, queue: "svc" }));
    const ran: string[] = [];
    const ac = new AbortController();
    const done = c.run(
      new Router().handle("work", (t) => {
        ran.push(t.id);
        return t.id;
      }),
      { signal: ac.signal },
    );
    try {
      const schedules = await c.scheduledTasks();
      await schedules.create({ name: "svc-tick", schedule: "@every 200ms", queue: "svc", type: "work" });
      await waitUntil(() => ran.some((id) => id.startsWith("cron:svc-tick:")), 10_000, "a cron task ran");
      await schedules.remove("svc-tick");

      const first = await c.enqueue(newTask("work", 1));
      const second = await c.enqueue(newTask("work", 2, { dependsOn: [first.id] }));
      await finals.reached(second.id);
      assert.equal((await c.loadTask(second.id)).state, TaskState.Complete);
      assert.ok(ran.indexOf(first.id) < ran.indexOf(second.id));

      const res = await fetch(service.metricsServer!.url);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /jetq_scheduler_pending \d+/);
      assert.match(text, /jetq_scheduler_fired_total \d+/);
    } finally {
      ac.abort();
      await done;
      finals.close();
      await c.close();
    }
  });
});
