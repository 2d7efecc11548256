import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { before, describe, it } from "node:test";
import { newTask, Router, silentLogger, TaskState, TerminateTask } from "../../src/index.js";
import { connectNats } from "../../src/nats/connect.js";
import { SchedulerService } from "../../src/scheduler/scheduler-service.js";
import { uniq } from "../gateway/gateway-support.js";
import { jetq, jetqJson } from "../support/cli.js";
import { useNatsServer } from "../support/nats.js";
import { natsConfig } from "../support/nats-context.js";
import { startServe } from "../support/serve-process.js";
import { storageOn } from "../support/storage.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;

/** Runs `jetq <args>` on a terminal (through `script`), so that progress bars and colors show; resolves with what it printed. */
async function onTerminal(args: string[]): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, "--import", "tsx", main, ...args].map((s) => `'${s}'`).join(" ");
  const child = spawn("script", ["-qfec", cmd, "/dev/null"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const [code] = (await once(child, "close")) as [number | null];
  return { code, out };
}

describe("jetq dead-letters …, info, --context", () => {
  let a: string[];
  before(async () => {
    await nats.ready;
    a = ["-a", nats.server.url];
  });

  it("lists, shows, redrives (one, then all with a progress bar on a terminal) and purges dead letters", async () => {
    const q = uniq();
    let refuse = true;
    const router = new Router().handle("job", () => {
      if (refuse) throw new TerminateTask("refused");
      return "ok";
    });
    await withWorker(nats.server.url, { name: q }, router, async (c, outcome) => {
      const dead = await Promise.all([1, 2, 3, 4].map((n) => c.enqueue(newTask("job", n))));
      for (const t of dead) assert.equal((await outcome(t.id)).state, TaskState.Terminated);
      const page = await jetqJson<{ dead_letters: { task: { id: string }; reason: string }[]; next?: number }>([
        "dead-letters",
        "list",
        q,
        "--limit",
        "3",
        ...a,
      ]);
      assert.equal(page.dead_letters.length, 3);
      assert.equal(page.dead_letters[0]!.reason, "terminated");
      assert.ok(page.next !== undefined);
      const shown = await jetq(["dead-letters", "get", q, dead[0]!.id, ...a]);
      assert.match(shown.stdout, /^reason\s+terminated$/m);
      assert.match(shown.stdout, /^last error\s+refused$/m);

      refuse = false;
      const one = await jetqJson<{ task: { id: string; tries: number } }>([
        "dead-letters",
        "redrive",
        q,
        dead[0]!.id,
        ...a,
      ]);
      assert.equal(one.task.tries, 0);
      assert.equal((await outcome(dead[0]!.id)).state, TaskState.Complete);
      const all = await onTerminal(["dead-letters", "redrive", q, ...a]);
      assert.equal(all.code, 0, all.out);
      assert.match(all.out, new RegExp(`redriving ${q} \\[`), "the progress bar was drawn");
      assert.match(all.out, /redriven 3/);
      for (const t of dead.slice(1)) assert.equal((await outcome(t.id)).state, TaskState.Complete);

      refuse = true;
      const again = await c.enqueue(newTask("job", 5));
      await outcome(again.id);
      assert.equal((await jetq(["dead-letters", "purge", q, ...a])).code, 2, "purging all needs --yes");
      assert.deepEqual(await jetqJson(["dead-letters", "purge", q, "--yes", ...a]), { purged: 1 });
      assert.equal((await jetq(["dead-letters", "get", q, again.id, ...a])).code, 3);
    });
  });

  it("shows the server, jetq's streams and buckets, storage used and the elected leaders", async () => {
    const nc = await connectNats({ servers: nats.server.url });
    const scheduler = new SchedulerService({
      storage: await storageOn(nc),
      log: silentLogger,
      name: "info-test-leader",
    });
    await scheduler.start();
    try {
      await jetqJson(["queue", "create", uniq(), ...a]);
      const info = await jetqJson<{
        server: { version: string };
        streams: { name: string; kind: string }[];
        jetq_bytes: number;
        leaders: { component: string; leader: string | null }[];
      }>(["info", ...a]);
      assert.match(info.server.version, /^2\.\d+\.\d+/);
      assert.ok(info.streams.some((s) => s.name === "JETQ_TASKS" && s.kind === "stream"));
      assert.ok(info.streams.some((s) => s.name === "JETQ_CONFIG" && s.kind === "bucket"));
      assert.ok(info.jetq_bytes > 0);
      assert.deepEqual(
        info.leaders.find((l) => l.component === "scheduler"),
        {
          component: "scheduler",
          leader: "info-test-leader",
        },
      );
      const text = await jetq(["info", ...a]);
      assert.match(text.stdout, /^scheduler leader\s+info-test-leader$/m);
      assert.match(text.stdout, /^STREAM\s+KIND\s+MESSAGES\s+BYTES\s+CONSUMERS\s+REPLICAS\s+STORAGE$/m);
    } finally {
      await scheduler.stop();
      await nc.close();
    }
  });

  it("connects through a nats CLI context: named, selected, and for jetq serve", async () => {
    const q = uniq();
    await jetqJson(["queue", "create", q, ...a]);
    const env = natsConfig({ here: { url: nats.server.url }, nowhere: { url: "nats://127.0.0.1:1" } }, "here");
    const named = await jetqJson<{ queues: { name: string }[] }>(
      ["queue", "list", "--sample", "0", "--context", "here"],
      0,
      { env },
    );
    assert.ok(named.queues.some((x) => x.name === q));
    const selected = await jetqJson<{ queues: { name: string }[] }>(["queue", "list", "--sample", "0"], 0, { env });
    assert.ok(
      selected.queues.some((x) => x.name === q),
      "the selected context is used when no server is given",
    );
    assert.equal((await jetq(["queue", "list", "--context", "nowhere"], { env })).code, 5);
    assert.equal(
      (await jetq(["queue", "list", "--context", "nowhere", ...a], { env })).code,
      0,
      "-a beats the context",
    );
    assert.equal((await jetq(["queue", "list", "--context", "missing"], { env })).code, 2);
    const serve = await startServe(["--context", "here"], 30_000, env);
    try {
      assert.ok(serve.log().includes(`"nats":"${nats.server.url}"`), "jetq serve used the context's server");
    } finally {
      await serve.kill();
    }
  });
});
