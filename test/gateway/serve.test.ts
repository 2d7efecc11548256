import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_HTTP_ADDRESS, httpOptionsFromFlags } from "../../src/cli/serve.js";
import { parseListenAddress } from "../../src/server/index.js";
import { useNatsServer } from "../support/nats.js";
import { startServe } from "../support/serve-process.js";

const nats = useNatsServer();

const flags = (extra: Record<string, string | boolean> = {}) => ({
  subject: "gozo",
  data: ".jetq",
  natsPort: "0",
  ...extra,
});

describe("jetq serve --http", () => {
  it("parses listen addresses", () => {
    assert.deepEqual(parseListenAddress("127.0.0.1:8080"), { host: "127.0.0.1", port: 8080 });
    assert.deepEqual(parseListenAddress("0.0.0.0:0"), { host: "0.0.0.0", port: 0 });
    assert.deepEqual(parseListenAddress("[::1]:9000"), { host: "::1", port: 9000 });
    assert.deepEqual(parseListenAddress(":8081"), { host: "127.0.0.1", port: 8081 });
    assert.deepEqual(parseListenAddress("localhost:80"), { host: "localhost", port: 80 });
    assert.equal(parseListenAddress("off"), undefined);
    for (const bad of ["8080", "host:", "host:99999", "a b:1", "[::1:80", "http://x:1"])
      assert.throws(
        () => parseListenAddress(bad),
        (e: unknown) => (e as { code?: string }).code === "invalid_http_address",
      );
  });

  it("turns flags into gateway settings", () => {
    const dflt = httpOptionsFromFlags(flags(), {});
    assert.ok(dflt);
    assert.equal(`${dflt.host}:${dflt.port}`, DEFAULT_HTTP_ADDRESS);
    assert.equal(dflt.optional, true, "the built-in default address may be taken");
    assert.deepEqual(dflt.tokens, []);

    const dir = mkdtempSync(join(tmpdir(), "jetq-serve-"));
    writeFileSync(join(dir, "tokens"), "from-file\n");
    const set = httpOptionsFromFlags(
      flags({
        http: "0.0.0.0:9090",
        httpTokenFile: join(dir, "tokens"),
        httpMaxBody: "2048",
        httpMaxWait: "30s",
        httpMaxPeek: "50",
        httpMaxAck: "7",
      }),
      { JETQ_HTTP_TOKENS: "a,b" },
    );
    assert.ok(set);
    assert.equal(set.optional, false);
    assert.deepEqual(set.tokens, ["from-file", "a", "b"]);
    assert.deepEqual(set.limits, { bodyBytes: 2048, waitTimeoutMs: 30_000, peekN: 50, ackIds: 7 });
    assert.equal(httpOptionsFromFlags(flags({ http: "off" }), {}), false);
    assert.deepEqual(dflt.ui, { enabled: true, readOnly: false }, "the dashboard is on by default");
    const off = httpOptionsFromFlags(flags({ ui: "off" }), {});
    assert.deepEqual(off ? off.ui : undefined, { enabled: false, readOnly: false });
    const ro = httpOptionsFromFlags(flags({ uiReadOnly: true }), {});
    assert.deepEqual(ro ? ro.ui : undefined, { enabled: true, readOnly: true });
    assert.throws(() => httpOptionsFromFlags(flags({ ui: "maybe" }), {}), /--ui must be on or off/);
    assert.throws(() => httpOptionsFromFlags(flags({ httpMaxPeek: "-1" }), {}));
  });

  it("serves HTTP with bearer tokens and answers a pending /wait on SIGTERM", async () => {
    await nats.ready;
    const dir = mkdtempSync(join(tmpdir(), "jetq-serve-"));
    writeFileSync(join(dir, "tokens"), "# tokens\nt0ken\n");
    const serve = await startServe([
      "-a",
      nats.server.url,
      "--http",
      "127.0.0.1:0",
      "--http-token-file",
      join(dir, "tokens"),
    ]);
    try {
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(serve.log())?.[1];
      assert.ok(url, serve.log());
      assert.equal((await fetch(`${url}/queues/`)).status, 401);
      const auth = { authorization: "Bearer t0ken" };
      const r = await fetch(`${url}/enqueue/served`, { method: "POST", headers: auth, body: '{"content":1}' });
      assert.equal(r.status, 200);
      const { id } = (await r.json()) as { id: string };
      const pending = fetch(`${url}/wait/`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ timeout: 30_000, queues: ["served", "served"] }),
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const exited = once(serve.child, "exit");
      serve.child.kill("SIGTERM");
      const answer = await pending;
      assert.equal(answer.status, 200);
      assert.deepEqual(await answer.json(), [{ id, content: 1 }, null]);
      const [code] = await exited;
      assert.equal(code, 0);
    } finally {
      await serve.kill();
    }
  });

  it("runs without HTTP with --http off", async () => {
    await nats.ready;
    const serve = await startServe(["-a", nats.server.url, "--http", "off"]);
    try {
      assert.doesNotMatch(serve.log(), /HTTP gateway listening/);
    } finally {
      await serve.kill();
    }
  });
});
