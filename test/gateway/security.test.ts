import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isValidQueueName } from "../../src/index.js";
import { BearerTokens, loadTokens } from "../../src/server/index.js";
import { useNatsServer } from "../support/nats.js";
import { type Answer, startGateway, type TestGateway, uniq } from "./gateway-support.js";

const nats = useNatsServer();

const errorOf = (a: Answer) => (a.body as { error?: unknown }).error;

/** Asserts an answer is a client error with the gateway's JSON error body. */
function assertClientError(a: Answer, what: string): void {
  assert.ok(a.status >= 400 && a.status < 500, `${what}: status ${a.status} ${JSON.stringify(a.body)}`);
  const b = a.body as { error?: unknown; message?: unknown };
  assert.equal(typeof b, "object", `${what}: JSON body, got ${JSON.stringify(a.body)}`);
  assert.equal(typeof b.error, "string", `${what}: error code`);
  assert.equal(typeof b.message, "string", `${what}: message`);
  assert.match(a.headers.get("content-type") ?? "", /application\/json/, what);
}

/** A small deterministic PRNG (mulberry32), so a failing case can be reproduced. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("bearer tokens", () => {
  it("accepts only configured tokens, whatever their length", () => {
    const t = new BearerTokens(["s3cret", "a-much-longer-second-token", " ", ""]);
    assert.ok(t.enabled);
    assert.ok(t.accepts("Bearer s3cret"));
    assert.ok(t.accepts("bearer a-much-longer-second-token"));
    for (const bad of [undefined, "", "Bearer", "Bearer ", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret"])
      assert.ok(!t.accepts(bad), String(bad));
    assert.ok(!new BearerTokens([]).enabled);
  });

  it("reads tokens from a file (comments and blank lines skipped) and a comma-separated list", () => {
    const dir = mkdtempSync(join(tmpdir(), "jetq-tokens-"));
    const file = join(dir, "tokens");
    writeFileSync(file, "# ops\nalpha\n\n  beta  \r\n#gamma\n");
    assert.deepEqual(loadTokens({ file, list: "delta, ,epsilon" }), ["alpha", "beta", "delta", "epsilon"]);
    assert.throws(
      () => loadTokens({ file: join(dir, "missing") }),
      (e: unknown) => (e as { code?: string }).code === "http_token_file",
    );
  });
});

describe("gateway security and limits", () => {
  let g: TestGateway;
  let open: TestGateway;
  const auth = { authorization: "Bearer s3cret" };

  before(async () => {
    await nats.ready;
    g = await startGateway(nats.server, {
      tokens: ["s3cret"],
      limits: { bodyBytes: 4096, waitTimeoutMs: 1000, waitQueues: 3, peekN: 10, ackIds: 5 },
    });
    open = await startGateway(nats.server, { limits: { bodyBytes: 4 * 1024 * 1024 } });
  });
  after(async () => {
    await g.close();
    await open.close();
  });

  it("answers 401 without a valid bearer token", async () => {
    const bad: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: "Basic czNjcmV0" }];
    for (const headers of bad) {
      for (const [method, path] of [
        ["GET", "/queues/"],
        ["POST", "/wait/"],
        ["GET", "/v1/openapi.json"],
        ["GET", "/nowhere"],
      ] as const) {
        const a = await g.call(method, path, method === "POST" ? { queues: [] } : undefined, headers);
        assert.equal(a.status, 401, `${method} ${path}`);
        assertClientError(a, `${method} ${path}`);
        assert.equal(errorOf(a), "unauthorized");
        assert.match(a.headers.get("www-authenticate") ?? "", /^Bearer/);
      }
    }
    assert.equal((await g.call("GET", "/queues/", undefined, auth)).status, 200);
  });

  it("enforces its limits with clear 413 and 400 answers", async () => {
    const q = uniq();
    const big = { content: "x".repeat(5000) };
    const tooBig = await g.call("POST", `/enqueue/${q}`, big, auth);
    assert.equal(tooBig.status, 413);
    assert.equal(errorOf(tooBig), "body_too_large");
    // the same without a Content-Length (chunked)
    const chunked = await fetch(`${g.url}/enqueue/${q}`, {
      method: "POST",
      headers: auth,
      body: new Blob([JSON.stringify(big)]).stream(),
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal(((await chunked.json()) as { error: string }).error, "body_too_large");

    const cases: [string, string, unknown, string][] = [
      ["POST", "/wait/", { timeout: 1001, queues: [q] }, "wait_timeout_too_large"],
      ["POST", "/wait/", { timeout: 0, queues: [q, q, q, q] }, "too_many_queues"],
      ["GET", `/peek/${q}?n=11`, undefined, "peek_n_too_large"],
      ["POST", "/ack/", { ids: ["a", "b", "c", "d", "e", "f"] }, "too_many_ids"],
      ["POST", "/nak/", { ids: ["a", "b", "c", "d", "e", "f"] }, "too_many_ids"],
    ];
    for (const [method, path, body, code] of cases) {
      const a = await g.call(method, path, body, auth);
      assert.equal(a.status, 400, `${method} ${path}`);
      assert.equal(errorOf(a), code);
    }
    // a body within the HTTP limit whose task is too large for a NATS message
    const huge = await open.call("POST", `/enqueue/${q}`, { content: "x".repeat(1024 * 1024 + 10) });
    assert.equal(huge.status, 413);
    assert.equal(errorOf(huge), "payload_too_large");
  });

  it("answers malformed HTTP with a JSON 400", async () => {
    const { port } = new URL(g.url);
    const sock = connect(Number(port), "127.0.0.1");
    let text = "";
    sock.on("data", (d) => {
      text += d.toString();
    });
    const closed = new Promise((r) => sock.on("close", r));
    sock.write("THIS IS NOT HTTP\r\n\r\n");
    await closed;
    assert.match(text, /^HTTP\/1\.1 400/);
    assert.match(text, /"error":"bad_request"/);
  });

  it("survives a few hundred generated malformed requests, each a 4xx with {error, message}", async () => {
    const next = rng(20_240_601);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const q = uniq();
    await g.call("PUT", `/v1/queues/${q}`, {}, auth);

    const badNames = [
      "a.b",
      "*",
      ">",
      "a.>",
      "%2A",
      "%3E",
      "a%2Eb",
      "a%20b",
      "a%00",
      "%zz",
      "..",
      "a/b",
      "é",
      "x".repeat(65),
      "",
    ];
    const junk = () => {
      const chars = '{}[]":,0123456789abcnulltrue-+eE. \\\n\t\u0000\u00ff';
      return Array.from({ length: 1 + Math.floor(next() * 40) }, () => pick([...chars])).join("");
    };
    const wrongTypes: unknown[] = [
      null,
      42,
      "text",
      [],
      [1, 2],
      true,
      { queues: "q" },
      { queues: [1] },
      { queues: [q], timeout: "5" },
      { queues: [q], timeout: -1 },
      { queues: [q], timeout: 1e308 },
      { queues: [q], extra: 1 },
      { queues: ["a.b"] },
      { queues: ["*"] },
      { queues: [">"] },
      { queues: [{}] },
      { ids: "x" },
      { ids: [null] },
      { ids: [1] },
      { ids: ["a.b"] },
      { ids: ["x".repeat(200)] },
      { content: 1, retry: -5 },
      { content: 1, retry: "1" },
      { content: 1, retry: 1e12 },
      { content: 1, expiry: -1 },
      { content: 1, expiry: 1e300 },
      { content: 1, job_duration: 3 },
      { type: 5 },
      { type: "t", priority: -1 },
      { type: "t", max_tries: 1.5 },
      { subject: 5, when: "+1s" },
      { subject: "x", when: 5 },
      { subject: "x", headers: { "bad name": "v" } },
    ];
    const requests: { method: string; path: string; body?: string }[] = [];
    for (let i = 0; i < 400; i++) {
      const kind = i % 8;
      if (kind === 0)
        requests.push({ method: "POST", path: pick(["/wait/", "/ack/", "/nak/", `/enqueue/${q}`]), body: junk() });
      else if (kind === 1)
        requests.push({
          method: "POST",
          path: pick(["/wait/", "/ack/", "/nak/", `/enqueue/${q}`, `/v1/queues/${q}/tasks`, "/v1/schedules"]),
          body: JSON.stringify(pick(wrongTypes)),
        });
      else if (kind === 2)
        requests.push({ method: "POST", path: `/enqueue/${pick(badNames)}`, body: JSON.stringify({ content: i }) });
      else if (kind === 3)
        requests.push({
          method: "GET",
          path: `${pick(["/peek/", "/v1/queues/"])}${pick(badNames)}${pick(["", "?n=1"])}`,
        });
      else if (kind === 4)
        requests.push({
          method: "GET",
          path: `/peek/${q}?n=${pick(["-1", "abc", "1e3", "99999999999", "", "1.5", "%00"])}`,
        });
      else if (kind === 5) {
        // a method the path does not take
        const [path, allowed] = pick([
          ["/wait/", "POST"],
          ["/ack/", "POST"],
          ["/nak/", "POST"],
          ["/queues/", "GET"],
          [`/peek/${q}`, "GET"],
          ["/v1/openapi.json", "GET"],
          ["/v1/tasks/x", "GET"],
          ["/nope", ""],
        ] as const);
        const method = pick(["PUT", "DELETE", "PATCH", "OPTIONS", "GET", "POST"].filter((m) => m !== allowed));
        requests.push({ method, path, body: "{}" });
      } else if (kind === 6)
        requests.push({
          method: "POST",
          path: pick(["/ack/", "/nak/"]),
          body: JSON.stringify({ ids: [`unknown-${i}`, pick(["a.b", "ok-id", "*"])] }),
        });
      else
        requests.push({
          method: "GET",
          path: pick([
            `/v1/tasks/${pick(["a.b", "*", "unknown-task", "%2E"])}`,
            `/v1/schedules/unknown-${i}`,
            "/v1/schedules?limit=-3",
          ]),
        });
    }
    const answers: Answer[] = [];
    for (let i = 0; i < requests.length; i += 25) {
      const batch = requests.slice(i, i + 25).map(async (r) => {
        const withBody = r.body !== undefined && r.method !== "GET";
        const a = await g.call(r.method, r.path, withBody ? r.body : undefined, auth);
        assertClientError(a, `${r.method} ${r.path} ${r.body ?? ""}`);
        return a;
      });
      answers.push(...(await Promise.all(batch)));
    }
    assert.equal(answers.length, 400);
    const codes = new Set(answers.map((a) => errorOf(a)));
    for (const code of [
      "invalid_json",
      "invalid_request",
      "invalid_queue_name",
      "method_not_allowed",
      "task_not_found",
    ])
      assert.ok(codes.has(code), `saw ${code}: ${[...codes].join(", ")}`);

    // still serving: a normal enqueue → wait → ack round, and no queue with a bad name was created
    const id = ((await g.call("POST", `/enqueue/${q}`, { content: "after the storm" }, auth)).body as { id: string })
      .id;
    const waited = await g.call("POST", "/wait/", { timeout: 1000, queues: [q] }, auth);
    assert.deepEqual(waited.body, [{ id, content: "after the storm" }]);
    assert.deepEqual((await g.call("POST", "/ack/", { ids: [id] }, auth)).body, { count: 1 });
    const names = (await g.call("GET", "/queues/", undefined, auth)).body as string[];
    assert.ok(names.every(isValidQueueName));
    assert.equal(g.gw.leased, 0);
  });
});
