/**
 * Gozo compatibility, proven against the real Gozo: the Python examples of Gozo's README run unchanged
 * with nats-py (from PyPI, in .tools/venv) against `jetq serve` and against Gozo itself (built by
 * scripts/bootstrap.mjs; skipped with the reason when it could not be), plus what survives a restart.
 * Only one scheduler runs at a time on the test's nats-server (both would answer `gozo`).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { findPeer } from "../../bench/peers/tools.js";
import { connectNats } from "../../src/nats/connect.js";
import { deferred, useNatsServer } from "../support/nats.js";
import { GOZO_README, type ReadmeExample, readmeExamples } from "./readme-python.js";
import { jetqServe, peerSkip, realGozo, type Target } from "./targets.js";

const nats = useNatsServer();
const RUNNER = fileURLToPath(new URL("./run-readme-example.py", import.meta.url));
/** The Gozo-Id the README's cancel example deletes. */
const README_CANCEL_ID = "c8d816dd-578b-47ff-84c1-031f3ee7ade3";

const python = findPeer("nats-py");
const pythonSkip = "path" in python ? false : python.reason;
if (pythonSkip) process.stderr.write(`[compat] Gozo README examples skipped: ${pythonSkip}\n`);
let examples: ReadmeExample[] = [];
try {
  examples = readmeExamples();
} catch (err) {
  process.stderr.write(`[compat] cannot read ${GOZO_README}: ${(err as Error).message}\n`);
}
const example = (word: string) => {
  const e = examples.find((x) => x.title.toLowerCase().includes(word));
  assert.ok(e, `no README example about "${word}" in ${GOZO_README}`);
  return e;
};

/** Runs one README example unchanged (see run-readme-example.py) and returns what it printed. */
async function runExample(code: string, natsUrl: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "jetq-gozo-example-"));
  try {
    const file = join(dir, "example.py");
    await writeFile(file, code);
    const py = "path" in python ? python.path : "python3";
    const child = spawn(py, [RUNNER, file], { env: { ...process.env, JETQ_TEST_NATS_URL: natsUrl }, cwd: dir });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const code_ = await new Promise<number | null>((r) => child.once("close", r));
    assert.equal(code_, 0, `example failed:\n${err}`);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Asserts the three lines the README's message_cb prints for one fired message. */
function assertFired(out: string): void {
  const lines = out.trim().split("\n");
  assert.equal(lines.length, 3, `one message printed:\n${out}`);
  assert.equal(lines[0], "reply.subject");
  assert.equal(lines[1], "b'Hello Gozo!'");
  assert.match(lines[2] ?? "", /'Gozo-Reply': 'Yes'/);
  assert.match(lines[2] ?? "", /'Gozo-Id': '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'/);
}

/** Schedules `data` to `subject` through the Gozo protocol (nats.js), `when` as Gozo-When. */
function schedule(nc: NatsConnection, subject: string, when: string, data: string, id?: string): void {
  const h = natsHeaders();
  h.set("Gozo-When", when);
  if (id) h.set("Gozo-Id", id);
  nc.publish("gozo", data, { reply: subject, headers: h });
}

/** Collects what arrives on `subject`, by payload. */
function collect(nc: NatsConnection, subject: string) {
  const seen: string[] = [];
  const waiters = new Map<string, () => void>();
  const sub = nc.subscribe(subject, {
    callback: (_e, m) => {
      const s = m.string();
      seen.push(s);
      waiters.get(s)?.();
    },
  });
  return {
    seen,
    sub,
    arrival(payload: string, timeoutMs = 30_000): Promise<void> {
      if (seen.includes(payload)) return Promise.resolve();
      const d = deferred();
      waiters.set(payload, d.resolve);
      const timer = setTimeout(() => d.resolve(), timeoutMs);
      return d.promise.then(() => {
        clearTimeout(timer);
        assert.ok(seen.includes(payload), `${payload} did not arrive within ${timeoutMs} ms`);
      });
    },
  };
}

/** Resolves once a schedule due now comes back (the scheduler listens). */
async function probe(nc: NatsConnection, timeoutMs = 30_000): Promise<void> {
  const inbox = `probe.${randomUUID().slice(0, 8)}`;
  const c = collect(nc, inbox);
  const end = Date.now() + timeoutMs;
  try {
    while (!c.seen.includes("probe")) {
      assert.ok(Date.now() < end, `the scheduler answered no probe within ${timeoutMs} ms`);
      schedule(nc, inbox, "+0", "probe");
      await c.arrival("probe", 1500).catch(() => undefined);
    }
  } finally {
    c.sub.unsubscribe();
  }
}

function gozoContract(label: string, makeTarget: (nc: NatsConnection) => Promise<Target>, skip: string | false) {
  describe(`Gozo README, unchanged, against ${label}`, { skip: skip || pythonSkip }, () => {
    let nc: NatsConnection;
    let t: Target;
    before(async () => {
      await nats.ready;
      nc = await connectNats({ servers: nats.server.url, name: "compat-gozo" });
      t = await makeTarget(nc);
      await t.start();
      await probe(nc);
    });
    after(async () => {
      await t?.stop();
      await nc?.close();
    });

    it("the absolute-time example gets its message back", async () => {
      assertFired(await runExample(example("absolute").code, nats.server.url));
    });

    it("the relative-time example gets its message back", async () => {
      assertFired(await runExample(example("relative").code, nats.server.url));
    });

    it("the cancel example cancels the schedule with its Gozo-Id", async () => {
      const subject = `cancel.${randomUUID().slice(0, 8)}`;
      const c = collect(nc, subject);
      schedule(nc, subject, "+3", "cancelled", README_CANCEL_ID);
      schedule(nc, subject, "+4", "sentinel");
      await nc.flush();
      await runExample(example("cancel").code, nats.server.url);
      await c.arrival("sentinel");
      assert.deepEqual(c.seen, ["sentinel"], "the cancelled schedule never fired");
      c.sub.unsubscribe();
    });

    it("a schedule with a Gozo-Id survives a restart of the scheduler", async () => {
      const subject = `restart.${randomUUID().slice(0, 8)}`;
      const c = collect(nc, subject);
      schedule(nc, subject, "+3", "kept", `restart-${randomUUID()}`);
      await nc.flush();
      await t.restart();
      await probe(nc);
      await c.arrival("kept");
      c.sub.unsubscribe();
    });

    // a deliberate difference (docs/compatibility.md)
    it("a schedule without Gozo-Id across a restart: Gozo forgets it (memory only), jetq keeps it", async () => {
      const subject = `noid.${randomUUID().slice(0, 8)}`;
      const c = collect(nc, subject);
      schedule(nc, subject, "+3", "no-id");
      schedule(nc, subject, "+5", "sentinel", `sentinel-${randomUUID()}`);
      await nc.flush();
      await t.restart();
      await probe(nc);
      await c.arrival("sentinel");
      assert.deepEqual(c.seen, t.isJetq ? ["no-id", "sentinel"] : ["sentinel"]);
      c.sub.unsubscribe();
    });
  });
}

const gozoSkip = peerSkip("gozo");
gozoContract("jetq serve", () => jetqServe(nats.server.url), false);
gozoContract("the real Gozo", (nc) => realGozo(nats.server.url, () => probe(nc)), gozoSkip);
