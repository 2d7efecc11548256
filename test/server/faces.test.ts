import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  Client,
  type ClientOptions,
  NotFoundError,
  newTask,
  Router,
  silentLogger,
  type Task,
  TaskState,
  type TaskStateEvent,
} from "../../src/index.js";
import { JetqService } from "../../src/server/jetq-service.js";
import { useNatsServer, waitUntil } from "../support/nats.js";

const nats = useNatsServer();

/** An ed25519 key pair: the 32-byte seed (hex) and the raw public key (hex). */
function keyPair(): { seed: string; pub: string } {
  const seed = randomBytes(32);
  // PKCS#8 prefix of an ed25519 private key, then the seed.
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const pub = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" }))
    .export({ format: "der", type: "spki" })
    .subarray(-32);
  return { seed: seed.toString("hex"), pub: pub.toString("hex") };
}

const keys = keyPair();
/** The run rules both faces are given. */
const RULES = { retryPolicy: () => 50, discard: [TaskState.Terminated], verificationKey: keys.pub };

/**
 * The scenario, per face: a task that fails its first try and then completes, one that fails every
 * try (two allowed) and expires, and an unsigned one that must be terminated without running.
 */
async function enqueueScenario(signed: Client, unsigned: Client, queue: string): Promise<Record<string, Task>> {
  const [flaky, broken] = await signed.enqueueMany([
    newTask("job", { fail: "first" }),
    newTask("job", { fail: "always" }, { maxTries: 2 }),
  ]);
  const forged = await unsigned.enqueue(newTask("job", { fail: "never" }), { queue });
  return { flaky: flaky!, broken: broken!, forged };
}

/** What must be the same whichever face ran the task. */
async function outcome(c: Client, t: Task): Promise<unknown> {
  try {
    const r = await c.loadTask(t.id);
    return { state: r.state, tries: r.tries, failures: r.failures?.length ?? 0, releases: r.releases ?? 0 };
  } catch (err) {
    if (err instanceof NotFoundError) return "discarded";
    throw err;
  }
}

/** The state changes per scenario task, as events. */
function eventLog(events: TaskStateEvent[], tasks: Record<string, Task>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(tasks).map(([name, t]) => [
      name,
      events.filter((e) => e.taskId === t.id).map((e) => `${e.state}:${e.tries}${e.final ? ":final" : ""}`),
    ]),
  );
}

/** The task state counters of one queue in a Prometheus text page. */
function stateCounters(text: string, queue: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^jetq_task_state_changes_total\\{queue="${queue}",type="job",state="(\\w+)"\\} (\\d+)$`, "gm");
  for (const m of text.matchAll(re)) out[m[1]!] = Number(m[2]);
  return out;
}

describe("one task engine, two faces", () => {
  let service: JetqService;
  const opened: Client[] = [];
  const connect = async (o: Partial<ClientOptions> & Pick<ClientOptions, "queue">) => {
    const c = await Client.connect({ servers: nats.server.url, logger: silentLogger, ...o });
    opened.push(c);
    return c;
  };
  before(async () => {
    await nats.ready;
    service = new JetqService({
      nats: { servers: nats.server.url },
      http: { host: "127.0.0.1", port: 0, nakDelayMs: 50 },
      metrics: { host: "127.0.0.1", port: 0 },
      tasks: RULES,
      log: silentLogger,
    });
    await service.start();
  });
  after(async () => {
    for (const c of opened) await c.close();
    await service.stop();
  });

  it("a library worker and HTTP /wait + /nak + /ack give the same records, events and metrics", async () => {
    const suffix = randomBytes(3).toString("hex");
    const libQ = `facelib${suffix}`;
    const httpQ = `facehttp${suffix}`;
    const worker = await connect({ queue: libQ, ...RULES, metricsPort: 0 });
    const signedLib = await connect({ queue: libQ, signingKey: keys.seed });
    const signedHttp = await connect({ queue: httpQ, signingKey: keys.seed });
    const unsigned = await connect({ queue: libQ });
    const events: TaskStateEvent[] = [];
    const follow = async (q: string) => {
      for await (const e of signedLib.events({ queue: q })) events.push(e);
    };
    void follow(libQ);
    void follow(httpQ);
    await signedLib.nc.flush();

    // The library face.
    const ran: string[] = [];
    const ac = new AbortController();
    const running = worker.run(
      new Router().handle("job", (t: Task<{ fail: string }>) => {
        ran.push(t.id);
        if (t.payload.fail === "always" || (t.payload.fail === "first" && t.tries === 1)) throw new Error("boom");
        return "ok";
      }),
      { signal: ac.signal },
    );
    const lib = await enqueueScenario(signedLib, unsigned, libQ);

    // The HTTP face: the same decisions, taken by an emq client.
    const http = await enqueueScenario(signedHttp, unsigned, httpQ);
    const url = service.gateway!.url;
    const seen = new Map<string, number>();
    const handedOut: string[] = [];
    const post = async (path: string, body: unknown) => {
      const r = await fetch(url + path, { method: "POST", body: JSON.stringify(body) });
      assert.equal(r.status, 200, `${path}: ${r.status}`);
      return r.json();
    };
    const settled = async () => {
      const outcomes = await Promise.all([http.flaky, http.broken].map((t) => outcome(signedHttp, t!)));
      return outcomes.every(
        (o) =>
          typeof o === "object" &&
          [TaskState.Complete, TaskState.Expired as TaskState].includes((o as { state: TaskState }).state),
      );
    };
    while (!(await settled())) {
      const [got] = (await post("/wait/", { queues: [httpQ], timeout: 200 })) as ({
        id: string;
        content: { fail: string };
      } | null)[];
      if (!got) continue;
      handedOut.push(got.id);
      const n = (seen.get(got.id) ?? 0) + 1;
      seen.set(got.id, n);
      const fail = got.content.fail === "always" || (got.content.fail === "first" && n === 1);
      await post(fail ? "/nak/" : "/ack/", { ids: [got.id] });
    }

    const outcomes = async (c: Client, tasks: Record<string, Task>) =>
      JSON.stringify(
        Object.fromEntries(await Promise.all(Object.entries(tasks).map(async ([k, t]) => [k, await outcome(c, t)]))),
      );
    let last = "";
    await waitUntil(
      async () => {
        const [a, b] = [await outcomes(signedLib, lib), await outcomes(signedHttp, http)];
        last = `library ${a}, HTTP ${b}`;
        return a === b;
      },
      30_000,
      "the same outcomes on both faces",
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
    ac.abort();
    await running;

    const httpOutcomes = Object.fromEntries(
      await Promise.all(Object.entries(http).map(async ([k, t]) => [k, await outcome(signedHttp, t)] as const)),
    );
    assert.deepEqual(httpOutcomes, {
      flaky: { state: TaskState.Complete, tries: 2, failures: 1, releases: 0 },
      broken: { state: TaskState.Expired, tries: 2, failures: 2, releases: 0 },
      forged: "discarded",
    });
    assert.ok(!ran.includes(lib.forged!.id), "the library never ran the unsigned task");
    assert.ok(!handedOut.includes(http.forged!.id), "the gateway never handed out the unsigned task");

    await waitUntil(() => events.filter((e) => e.final).length >= 6, 10_000, "the final events of both faces");
    assert.deepEqual(eventLog(events, http), eventLog(events, lib), "the same events");

    const libMetrics = stateCounters(await (await fetch(worker.metricsUrl!)).text(), libQ);
    const httpMetrics = stateCounters(await (await fetch(service.metricsServer!.url)).text(), httpQ);
    assert.deepEqual(httpMetrics, libMetrics, "the same metrics");
    assert.deepEqual(libMetrics, { active: 4, retry: 2, complete: 1, expired: 1, terminated: 1 });
  });
});
