import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Command } from "commander";
import { applyEnvFiles } from "../../src/cli/env-files.js";
import { addNatsFlags, natsOptionsFromFlags } from "../../src/cli/nats-flags.js";
import { RateLimitedLog } from "../../src/rate-limited-log.js";
import { memoryLogger } from "../support/memory-logger.js";

describe("jetq serve configuration", () => {
  it("reads env files; the real environment beats them, a later file beats an earlier one", () => {
    const dir = mkdtempSync(join(tmpdir(), "jetq-env-"));
    writeFileSync(join(dir, "etc.env"), "NATS_ADDRESS=nats://etc:4222\nNATS_USER=etc-user\nNATS_TOKEN=etc-token\n");
    writeFileSync(join(dir, "local.env"), "NATS_USER=local-user\n");
    const env: NodeJS.ProcessEnv = { NATS_TOKEN: "real-token" };
    applyEnvFiles([join(dir, "etc.env"), join(dir, "local.env"), join(dir, "missing.env")], env);
    assert.deepEqual(env, { NATS_ADDRESS: "nats://etc:4222", NATS_USER: "local-user", NATS_TOKEN: "real-token" });
  });

  it("takes Gozo's flags with the same short letters; a flag beats NATS_<NAME>", () => {
    const saved = { ...process.env };
    process.env.NATS_ADDRESS = "nats://from-env:4222";
    process.env.NATS_TOKEN = "env-token";
    try {
      const cmd = addNatsFlags(new Command().exitOverride());
      cmd.parse(
        [
          "-a",
          "nats://a:1,nats://b:2",
          "-s",
          "-u",
          "u",
          "-p",
          "p",
          "-c",
          "c.pem",
          "-k",
          "k.pem",
          "-n",
          "seed",
          "-j",
          "creds",
          "--ca",
          "ca.pem",
        ],
        { from: "user" },
      );
      const opts = natsOptionsFromFlags(cmd.opts());
      assert.deepEqual(opts, {
        servers: "nats://a:1,nats://b:2",
        secure: true,
        token: "env-token",
        user: "u",
        password: "p",
        cert: "c.pem",
        key: "k.pem",
        ca: "ca.pem",
        nkey: "seed",
        credentials: "creds",
      });
    } finally {
      process.env = saved;
    }
  });

  it("logs bad input once per reason per interval, then how much it held back", () => {
    let now = 0;
    const log = memoryLogger();
    const rl = new RateLimitedLog(log, 1000, () => now);
    for (let i = 0; i < 50; i++) rl.warn("invalid_when", "dropped");
    rl.warn("missing_reply", "dropped");
    now = 1500;
    rl.warn("invalid_when", "dropped");
    assert.equal(log.lines.length, 3);
    assert.match(log.lines[2]!, /"suppressed":49/);
  });
});
