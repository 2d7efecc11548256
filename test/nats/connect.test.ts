/**
 * Connecting with credentials in the server URL, and a clear error when a TLS server wants a
 * client certificate that was not given (issue 12, low items). Each test starts its own
 * nats-server with the configuration it needs.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/errors.js";
import { connectNats, splitUrlCredentials } from "../../src/nats/connect.js";

async function freePort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as { port: number };
  s.close();
  return port;
}

/** Starts nats-server on a free loopback port with extra configuration; resolves with its port and a stop function. */
async function configuredServer(extra: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "jetq-conf-"));
  const port = await freePort();
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `listen: "127.0.0.1:${port}"\n${extra}\n`);
  const proc = spawn("nats-server", ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    proc.stderr.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Server is ready")) resolve();
    });
    proc.once("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${out}`)));
  });
  return {
    port,
    stop: async () => {
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

describe("connecting", () => {
  it("splits credentials out of server URLs", () => {
    assert.deepEqual(splitUrlCredentials(["nats://u%40x:p%3Aw@h:4222", "nats://h2:4222"]), {
      servers: ["nats://h:4222", "nats://h2:4222"],
      user: "u@x",
      password: "p:w",
    });
    assert.deepEqual(splitUrlCredentials(["tok@h:1"]), { servers: ["nats://h:1"], token: "tok" });
    assert.deepEqual(splitUrlCredentials(["h:1"]), { servers: ["h:1"] });
  });

  it("uses user:password from -a nats://user:pass@host (and a token from nats://token@host)", async () => {
    const users = await configuredServer('authorization { user: "alice", password: "s3cret" }');
    try {
      const nc = await connectNats({ servers: `nats://alice:s3cret@127.0.0.1:${users.port}` });
      await nc.flush();
      await nc.close();
      await assert.rejects(connectNats({ servers: `nats://alice:wrong@127.0.0.1:${users.port}` }));
    } finally {
      await users.stop();
    }
    const tokens = await configuredServer('authorization { token: "t0k3n" }');
    try {
      const nc = await connectNats({ servers: `nats://t0k3n@127.0.0.1:${tokens.port}` });
      await nc.flush();
      await nc.close();
    } finally {
      await tokens.stop();
    }
  });

  it("-s --ca against a server that requires a client certificate says what is missing, at once", async (t) => {
    try {
      execFileSync("openssl", ["version"], { stdio: "ignore" });
    } catch {
      t.skip("openssl is not installed");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "jetq-tls-"));
    const f = (n: string) => join(dir, n);
    const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
    ssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      f("ca.key"),
      "-out",
      f("ca.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=jetq test CA",
    );
    ssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      f("srv.key"),
      "-out",
      f("srv.csr"),
      "-subj",
      "/CN=127.0.0.1",
    );
    writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    ssl(
      "x509",
      "-req",
      "-in",
      f("srv.csr"),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-out",
      f("srv.pem"),
      "-days",
      "2",
      "-extfile",
      f("ext.cnf"),
    );
    const srv = await configuredServer(
      `tls { cert_file: "${f("srv.pem")}", key_file: "${f("srv.key")}", ca_file: "${f("ca.pem")}", verify: true }`,
    );
    try {
      await assert.rejects(
        connectNats({ servers: `nats://127.0.0.1:${srv.port}`, secure: true, ca: f("ca.pem") }),
        (e: unknown) => e instanceof ConfigError && e.code === "tls_client_cert_required" && /--cert/.test(e.message),
      );
    } finally {
      await srv.stop();
    }
  });
});
