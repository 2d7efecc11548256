import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectNats } from "../../src/nats/connect.js";
import { loadNatsContext, selectedNatsContext } from "../../src/nats/nats-context.js";
import { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { natsConfig } from "../support/nats-context.js";

describe("nats CLI contexts", () => {
  const server = new NatsServerLauncher({ extraConfig: 'authorization { user: "ops", password: "pw" }' });
  before(() => server.start());
  after(() => server.stop());

  it("reads a named or the selected context; given options beat the context's", () => {
    const env = natsConfig(
      {
        prod: {
          description: "x",
          url: "nats://a:1,nats://b:2",
          token: "t",
          creds: "/c.creds",
          ca: "/ca.pem",
          tls_first: true,
        },
        dev: { url: "nats://dev:4222", user: "u", password: "p", nkey: "/seed.nk", inbox_prefix: "_I.me" },
      },
      "dev",
    );
    assert.deepEqual(loadNatsContext("prod", env), {
      servers: "nats://a:1,nats://b:2",
      token: "t",
      credentials: "/c.creds",
      ca: "/ca.pem",
      tlsFirst: true,
    });
    assert.equal(selectedNatsContext(env), "dev");
    assert.deepEqual(loadNatsContext("", env), {
      servers: "nats://dev:4222",
      user: "u",
      password: "p",
      nkey: "/seed.nk",
      inboxPrefix: "_I.me",
    });
  });

  it("refuses missing, malformed and unsupported contexts with their codes", () => {
    const env = natsConfig({ domain: { url: "nats://x:1", jetstream_domain: "hub" }, bad: [1] });
    assert.throws(() => loadNatsContext("nope", env), { code: "nats_context_not_found" });
    assert.throws(() => loadNatsContext("", env), { code: "nats_context_not_found" });
    assert.throws(() => loadNatsContext("../etc/passwd", env), { code: "invalid_nats_context" });
    assert.throws(() => loadNatsContext("bad", env), { code: "invalid_nats_context" });
    assert.throws(() => loadNatsContext("domain", env), { code: "unsupported_nats_context" });
  });

  it("connects with a context's server and credentials (natsContext option), and an explicit option wins", async () => {
    const env = natsConfig({
      ops: { url: server.url, user: "ops", password: "pw" },
      wrong: { url: server.url, user: "ops", password: "no" },
    });
    const saved = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = env.XDG_CONFIG_HOME;
    try {
      const nc = await connectNats({ natsContext: "ops" });
      assert.equal(nc.getServer(), server.url.replace("nats://", ""));
      await nc.close();
      await assert.rejects(connectNats({ natsContext: "wrong" }), /Authorization Violation/i);
      const fixed = await connectNats({ natsContext: "wrong", password: "pw" });
      await fixed.close();
    } finally {
      if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved;
    }
  });
});
