/**
 * Issue 12, items 13-15 and the metrics endpoint: bad input never gets a 5xx, waits on unknown
 * queues cost no read per name per second, queue creation over HTTP is bounded, and the first
 * poll of a fresh gateway returns what is queued.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { newTask } from "../../src/index.js";
import { handlesOf } from "../../src/jobs/storage/handles.js";
import { queueStream } from "../../src/jobs/storage/layout.js";
import { memoryLogger } from "../support/memory-logger.js";
import { useNatsServer, waitUntil } from "../support/nats.js";
import { startServe } from "../support/serve-process.js";
import { startGateway, type TestGateway, uniq } from "./gateway-support.js";

const nats = useNatsServer();
const lines: string[] = [];
let g: TestGateway;

before(async () => {
  await nats.ready;
  g = await startGateway(nats.server, { log: memoryLogger(lines) });
  nats.beforeStop(() => g.close());
});

const errorOf = (a: { body: unknown }) => (a.body as { error?: string }).error;

async function streamExists(name: string): Promise<boolean> {
  return handlesOf(g.storage)
    .jsm.streams.info(name)
    .then(
      () => true,
      () => false,
    );
}

describe("no 5xx on bad input (issue 12, item 13)", () => {
  it("time fields out of range are 400 with their code", async () => {
    const q = uniq();
    assert.equal((await g.call("PUT", `/v1/queues/${q}`, {})).status, 201);
    const cases: [unknown, string][] = [
      [{ type: "t", deadline: 1e21 }, "invalid_deadline"],
      [{ type: "t", deadline: -1 }, "invalid_deadline"],
      [{ type: "t", deadline: "+275760-09-13T00:00:00Z" }, "invalid_deadline"],
      [{ type: "t", run_at: -9e15 }, "invalid_run_at"],
      [{ type: "t", run_at: 1e21 }, "invalid_run_at"],
      [{ type: "t", delay_ms: 1e300 }, "invalid_run_at"],
    ];
    for (const [body, code] of cases) {
      const a = await g.call("POST", `/v1/queues/${q}/tasks`, body);
      assert.equal(a.status, 400, `${JSON.stringify(body)}: ${a.status} ${JSON.stringify(a.body)}`);
      assert.equal(errorOf(a), code, JSON.stringify(body));
    }
    const ok = await g.call("POST", `/v1/queues/${q}/tasks`, { type: "t", deadline: "9999-12-31T23:59:59Z" });
    assert.equal(ok.status, 201);
  });

  it("JSON nested 6,000 deep is 400 json_too_deep on every body", async () => {
    const deep = `${"[".repeat(6000)}${"]".repeat(6000)}`;
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {});
    for (const [path, body] of [
      [`/enqueue/${q}`, `{"content":${deep}}`],
      [`/v1/queues/${q}/tasks`, `{"type":"t","payload":${deep}}`],
      ["/v1/schedules", `{"subject":"a.b","when":"+1","headers":${deep}}`],
      ["/wait/", deep],
    ] as const) {
      const a = await g.call("POST", path, body);
      assert.equal(a.status, 400, `${path}: ${a.status}`);
      assert.equal(errorOf(a), "json_too_deep", path);
    }
    // Brackets inside strings do not count.
    const text = await g.call("POST", `/enqueue/${q}`, `{"content":"${"[".repeat(6000)}"}`);
    assert.equal(text.status, 200);
  });

  it("queue settings JetStream would refuse are 400 and leave nothing half-made", async () => {
    for (const body of [
      { max_age_ms: 1 },
      { max_age_ms: 9007199254740991 },
      { dead_letter_retention_ms: 1 },
      { max_run_time_ms: 2 ** 31 },
      { max_concurrent: 1e9 },
    ]) {
      const q = uniq();
      const a = await g.call("PUT", `/v1/queues/${q}`, body);
      assert.equal(a.status, 400, `${JSON.stringify(body)}: ${a.status} ${JSON.stringify(a.body)}`);
      assert.equal(errorOf(a), "invalid_queue_config");
      assert.equal(await streamExists(queueStream(q)), false, `no stream left for ${JSON.stringify(body)}`);
      assert.equal((await g.call("GET", `/v1/queues/${q}`)).status, 404);
      assert.equal((await g.call("PUT", `/v1/queues/${q}`, { max_age_ms: 100 })).status, 201, "a clean retry works");
    }
  });

  it("a 70 KB schedule header is 413 headers_too_large", async () => {
    const a = await g.call("POST", "/v1/schedules", {
      subject: "a.b",
      when: "+1h",
      headers: { "X-Big": "v".repeat(70_000) },
    });
    assert.equal(a.status, 413, JSON.stringify(a.body));
    assert.equal(errorOf(a), "headers_too_large");
  });

  it("a client aborting mid-body is logged at debug, with no error line and no stack", async () => {
    const before = lines.length;
    const { hostname, port } = new URL(g.url);
    const socket = createConnection({ host: hostname, port: Number(port) });
    await once(socket, "connect");
    socket.write(
      `POST /v1/schedules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"subject":`,
    );
    // Once the gateway handles the request (it is reading the body), go away.
    await waitUntil(() => g.gw["inFlight"] > 0, 10_000, "the request in progress");
    socket.destroy();
    await waitUntil(
      () => lines.slice(before).some((l) => l.includes("client closed the connection mid-request")),
      10_000,
      "the debug line",
    );
    const mine = lines.slice(before);
    assert.ok(!mine.some((l) => / error /.test(l)), mine.join("\n"));
    assert.ok(!mine.some((l) => l.includes("stack")), mine.join("\n"));
    assert.equal((await g.call("GET", "/queues/")).status, 200, "still serving");
  });
});

describe("unknown queues over HTTP are bounded (issue 12, item 14)", () => {
  it("/wait on 100 unknown queues reads each name once, and is woken when one of them is created", async () => {
    const names = Array.from({ length: 100 }, () => uniq());
    let reads = 0;
    const storage = g.storage as unknown as { findQueue: (n: string) => Promise<unknown> };
    const real = storage.findQueue.bind(g.storage);
    storage.findQueue = (n) => {
      if (names.includes(n)) reads++;
      return real(n);
    };
    try {
      const waiting = g.call("POST", "/wait/", { timeout: 2500, queues: names });
      await waitUntil(() => reads >= names.length, 10_000, "first lookups");
      const c = await g.client({ name: names[7]! });
      const t = await c.enqueue(newTask("emq", "woken"));
      const a = await waiting;
      assert.equal(a.status, 200);
      const got = a.body as ({ id: string } | null)[];
      assert.equal(got[7]?.id, t.id, "the queue created during the wait was found");
      assert.ok(reads <= names.length + 1, `${reads} reads for ${names.length} names over 2.5 s`);
      const again = await g.call("POST", "/wait/", { timeout: 300, queues: names.filter((_, i) => i !== 7) });
      assert.equal(again.status, 200);
      assert.ok(reads <= names.length + 1, `a second wait on names known to be missing read ${reads - names.length}`);
    } finally {
      storage.findQueue = real;
    }
  });

  it("at most newQueuesPerMinute queues are created over HTTP; existing ones are unaffected", async () => {
    const capped = await startGateway(nats.server, { limits: { newQueuesPerMinute: 2 } });
    try {
      const [a, b, c, d] = [uniq(), uniq(), uniq(), uniq()];
      assert.equal((await capped.call("POST", `/enqueue/${a}`, { content: 1 })).status, 200);
      assert.equal((await capped.call("PUT", `/v1/queues/${b}`, {})).status, 201);
      const third = await capped.call("POST", `/enqueue/${c}`, { content: 1 });
      assert.equal(third.status, 429, JSON.stringify(third.body));
      assert.equal(errorOf(third), "queue_creation_limited");
      assert.equal(errorOf(await capped.call("PUT", `/v1/queues/${d}`, {})), "queue_creation_limited");
      assert.equal(await streamExists(queueStream(c)), false);
      assert.equal((await capped.call("POST", `/enqueue/${a}`, { content: 2 })).status, 200, "existing queue");
    } finally {
      await capped.close();
    }
  });

  it("createQueues: false refuses unknown queues on /enqueue (404) and creates none", async () => {
    const strict = await startGateway(nats.server, { createQueues: false });
    try {
      const q = uniq();
      const a = await strict.call("POST", `/enqueue/${q}`, { content: 1 });
      assert.equal(a.status, 404);
      assert.equal(errorOf(a), "queue_not_found");
      assert.equal(await streamExists(queueStream(q)), false);
      assert.equal((await strict.call("PUT", `/v1/queues/${q}`, {})).status, 201);
      assert.equal((await strict.call("POST", `/enqueue/${q}`, { content: 1 })).status, 200);
    } finally {
      await strict.close();
    }
  });
});

describe("emq compatibility: the first poll (issue 12, item 15)", () => {
  it("a fresh gateway's first /wait with timeout 0 returns the tasks already queued", async () => {
    const [q1, q2] = [uniq(), uniq()];
    const c1 = await g.client({ name: q1 });
    const c2 = await g.client({ name: q2 });
    const t1 = await c1.enqueue(newTask("emq", 1));
    const t2 = await c2.enqueue(newTask("emq", 2));
    const fresh = await startGateway(nats.server);
    try {
      const a = await fresh.call("POST", "/wait/", { timeout: 0, queues: [q1, q2] });
      assert.equal(a.status, 200);
      assert.deepEqual(
        (a.body as ({ id: string } | null)[]).map((t) => t?.id ?? null),
        [t1.id, t2.id],
      );
      assert.equal((await fresh.call("POST", "/ack/", { ids: [t1.id, t2.id] })).status, 200);
    } finally {
      await fresh.close();
    }
  });
});

describe("jetq serve --metrics with HTTP tokens (issue 12, low)", () => {
  it("asks for the same bearer tokens", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jetq-metrics-"));
    writeFileSync(join(dir, "tokens"), "m3trics\n");
    const serve = await startServe([
      "-a",
      nats.server.url,
      "--http-token-file",
      join(dir, "tokens"),
      "--metrics",
      "127.0.0.1:0",
    ]);
    try {
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(serve.log())?.[1];
      assert.ok(url, serve.log());
      const open = await fetch(url);
      assert.equal(open.status, 401);
      assert.match(open.headers.get("www-authenticate") ?? "", /Bearer/);
      const ok = await fetch(url, { headers: { authorization: "Bearer m3trics" } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /jetq_scheduler_fired_total/);
    } finally {
      await serve.kill();
    }
  });
});
