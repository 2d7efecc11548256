import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newTask } from "../../src/index.js";
import { startGateway, type TestGateway, uniq } from "../gateway/gateway-support.js";
import { jetq, jetqJson } from "../support/cli.js";
import { useNatsServer } from "../support/nats.js";

const nats = useNatsServer();
type Body = Record<string, unknown>;

describe("jetq queue …", () => {
  let g: TestGateway;
  let a: string[];
  before(async () => {
    await nats.ready;
    g = await startGateway(nats.server);
    a = ["-a", nats.server.url];
  });
  after(() => g.close());

  it("creates, shows (the REST API's JSON), lists with rates, and refuses a second create's settings", async () => {
    const q = uniq();
    const created = await jetqJson(["queue", "create", q, "--max-tries", "3", "--max-run-time", "10m", ...a]);
    assert.equal(created.max_tries, 3);
    assert.equal(created.max_run_time_ms, 600_000);
    const again = await jetq(["queue", "create", q, "--max-tries", "4", ...a]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /exists; its stored max_tries differ/);

    const c = await g.client(q);
    await c.enqueueMany([1, 2, 3].map((n) => newTask("t", n)));
    const shown = await jetqJson(["queue", "info", q, ...a]);
    assert.deepEqual(shown, (await g.call("GET", `/v1/queues/${q}`)).body, "the CLI prints what REST answers");
    const text = await jetq(["queue", "info", q, ...a]);
    assert.match(text.stdout, /^waiting\s+3$/m);
    assert.match(text.stdout, /^max tries\s+3$/m);

    const listed = await jetqJson<{ queues: (Body & { rates?: Body })[] }>([
      "queue",
      "list",
      "--sample",
      "200ms",
      ...a,
    ]);
    const mine = listed.queues.find((x) => x.name === q);
    assert.ok(mine?.rates, JSON.stringify(listed));
    assert.equal(mine.pending, 3);
    assert.deepEqual(Object.keys(mine.rates).sort(), ["dead_lettered_per_s", "enqueued_per_s", "finished_per_s"]);
    const table = await jetq(["queue", "list", "--sample", "0", ...a]);
    assert.match(table.stdout, /^QUEUE\s+WAITING\s+IN FLIGHT\s+DEAD\s+STATUS$/m);
    assert.match(table.stdout, new RegExp(`^${q}\\s+3\\s+0\\s+0\\s+active$`, "m"));
  });

  it("updates settings, refusing changes that would drop tasks (exit 4) and empty updates (exit 2)", async () => {
    const q = uniq();
    await jetqJson(["queue", "create", q, ...a]);
    const r = await jetqJson<{ changed: string[]; config: Body }>([
      "queue",
      "update",
      q,
      "--max-concurrent",
      "9",
      "--dead-letters",
      "false",
      ...a,
    ]);
    assert.deepEqual(r.changed.sort(), ["dead_letters", "max_concurrent"]);
    assert.equal(r.config.max_concurrent, 9);
    await (await g.client(q)).enqueueMany([1, 2].map((n) => newTask("t", n)));
    const refused = await jetq(["queue", "update", q, "--max-entries", "1", ...a]);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /queue_update_drops_tasks/);
    assert.equal((await jetq(["queue", "update", q, ...a])).code, 2);
    assert.equal((await jetq(["queue", "update", q, "--discard-old", "maybe", ...a])).code, 2);
    assert.equal((await jetq(["queue", "update", q, "--max-entries", "1", "--allow-drop", ...a])).code, 0);
  });

  it("pauses, limits, resumes; purges and deletes only when confirmed", async () => {
    const q = uniq();
    const c = await g.client(q);
    assert.equal((await jetqJson(["queue", "pause", q, ...a])).paused, true);
    assert.ok((await c.queueControls()).paused);
    const limited = await jetqJson(["queue", "rate-limit", q, "5", "2s", ...a]);
    assert.deepEqual(limited.rate_limit, { limit: 5, interval_ms: 2000 });
    assert.equal((await jetqJson(["queue", "rate-limit", q, ...a])).rate_limit, undefined);
    assert.equal((await jetqJson(["queue", "resume", q, ...a])).paused, false);
    assert.equal((await jetq(["queue", "rate-limit", q, "0", ...a])).code, 2);

    await c.enqueueMany([1, 2].map((n) => newTask("t", n)));
    const unconfirmed = await jetq(["queue", "purge", q, ...a]);
    assert.equal(unconfirmed.code, 2, "no terminal to ask: --yes is required");
    assert.match(unconfirmed.stderr, /Pass --yes/);
    assert.deepEqual(await jetqJson(["queue", "purge", q, "--yes", ...a]), { purged: 2 });
    assert.equal((await jetq(["queue", "delete", q, ...a])).code, 2);
    assert.deepEqual(await jetqJson(["queue", "delete", q, "-y", ...a]), { deleted: q });
    assert.equal((await g.storage.findQueue(q)) === undefined || !(await g.storage.queueNames()).includes(q), true);
  });

  it("exits 3 for a missing queue, 5 when NATS is unreachable, 2 for bad usage; prints --version", async () => {
    const missing = await jetq(["queue", "info", "no-such-queue", ...a]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /\[queue_not_found\]/);
    const asJson = await jetq(["queue", "pause", "no-such-queue", "--json", ...a]);
    assert.equal(asJson.code, 3);
    assert.equal(JSON.parse(asJson.stdout).error, "queue_not_found");
    const down = await jetq(["queue", "list", "-a", "nats://127.0.0.1:1"]);
    assert.equal(down.code, 5, down.stderr);
    assert.equal((await jetq(["queue", "frobnicate"])).code, 2);
    assert.equal((await jetq(["queue", "info", "a.b", ...a])).code, 2);
    const version = await jetq(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });
});
