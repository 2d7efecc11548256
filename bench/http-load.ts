/**
 * The HTTP client of the benchmark's HTTP rows: `clients` keep-alive loops against jetq's gateway
 * (emq routes or REST) or the real emq, run in a child process so they do not share the server's
 * event loop. A {@link LoadProcess} forks this file and runs jobs in it.
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";

/**
 * What the loops do:
 * - `enqueue`: `POST /enqueue/<queue>` (emq's route) for `durationMs`;
 * - `rest-enqueue`: `POST /v1/queues/<queue>/tasks` (jetq's REST route) for `durationMs`;
 * - `wait-ack`: `POST /wait/` + `POST /ack/` cycles until the queue runs dry (or `expect` are done);
 * - `wake`: `expect` times, one blocked `/wait/`, then an enqueue on a second connection; the
 *   latency is from sending the enqueue to the wait's answer (then the task is acked).
 */
export type LoadMode = "enqueue" | "rest-enqueue" | "wait-ack" | "wake";

/** What the load worker is asked to do. */
export interface LoadJob {
  url: string;
  mode: LoadMode;
  queue: string;
  clients: number;
  /** Stop after this long (enqueue modes); 0 for the other modes. */
  durationMs: number;
  /**
   * wait-ack: stop once this many cycles are done, instead of at the first empty wait (an empty wait
   * is then asked again). wake: how many wake-ups to time.
   */
  expect?: number;
  /** The `timeout` of each `/wait/`, ms. @defaultValue 200 */
  waitTimeoutMs?: number;
}

/** What the load worker reports. */
export interface LoadResult {
  done: number;
  errors: number;
  elapsedMs: number;
  /** Per request (enqueue) or per cycle (wait-ack), ms. */
  latencies: number[];
}

/** POSTs `body` as JSON over `agent` and reads the answer as text. */
export function httpPost(agent: Agent, url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          data += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The body of every enqueue (emq's `content`; REST's `payload`). */
const CONTENT = { n: 1, text: "hello from the benchmark" };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wake-up timing (mode `wake`): one client, one waiter at a time. */
async function runWakes(job: LoadJob): Promise<LoadResult> {
  const waiter = new Agent({ keepAlive: true, maxSockets: 1 });
  const producer = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const waitBody = JSON.stringify({ timeout: 10_000, queues: [job.queue] });
  const enqueueBody = JSON.stringify({ content: CONTENT });
  for (let i = 0; i < (job.expect ?? 0); i++) {
    const answer = httpPost(waiter, `${job.url}/wait/`, waitBody);
    await sleep(15); // pacing: the wait reaches the server and blocks before the task arrives
    const t0 = performance.now();
    const enq = await httpPost(producer, `${job.url}/enqueue/${job.queue}`, enqueueBody);
    const r = await answer;
    const t1 = performance.now();
    const [task] = JSON.parse(r.body) as ({ id: string } | null)[];
    if (enq.status !== 200 || !task) {
      errors++;
      continue;
    }
    latencies.push(t1 - t0);
    const a = await httpPost(waiter, `${job.url}/ack/`, JSON.stringify({ ids: [task.id] }));
    if (a.status !== 200) errors++;
  }
  waiter.destroy();
  producer.destroy();
  return { done: latencies.length, errors, elapsedMs: performance.now() - start, latencies };
}

/** Runs in the load process: `clients` keep-alive loops against the server. */
async function runLoad(job: LoadJob): Promise<LoadResult> {
  if (job.mode === "wake") return runWakes(job);
  const agent = new Agent({ keepAlive: true, maxSockets: job.clients });
  const latencies: number[] = [];
  let done = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + job.durationMs;
  let lastDone = start;
  const enqueue =
    job.mode === "rest-enqueue"
      ? {
          url: `${job.url}/v1/queues/${job.queue}/tasks`,
          body: JSON.stringify({ type: "bench:noop", payload: CONTENT }),
          ok: 201,
        }
      : { url: `${job.url}/enqueue/${job.queue}`, body: JSON.stringify({ content: CONTENT }), ok: 200 };
  const waitBody = JSON.stringify({ timeout: job.waitTimeoutMs ?? 200, queues: [job.queue] });
  let claimed = 0; // wait-ack with `expect`: cycles started, so no client waits for a task nobody will send
  await Promise.all(
    Array.from({ length: job.clients }, async () => {
      for (;;) {
        const t0 = performance.now();
        if (job.mode !== "wait-ack") {
          if (t0 >= end) return;
          const r = await httpPost(agent, enqueue.url, enqueue.body);
          if (r.status !== enqueue.ok) errors++;
        } else {
          if (job.expect !== undefined && claimed++ >= job.expect) return;
          const r = await httpPost(agent, `${job.url}/wait/`, waitBody);
          const [task] = JSON.parse(r.body) as ({ id: string } | null)[];
          if (!task && job.expect === undefined) return; // the queue ran dry
          if (!task) {
            claimed--; // nothing handed out this time: ask again
            continue;
          }
          const a = await httpPost(agent, `${job.url}/ack/`, JSON.stringify({ ids: [task.id] }));
          if (a.status !== 200) errors++;
        }
        const t1 = performance.now();
        latencies.push(t1 - t0);
        done++;
        lastDone = t1;
      }
    }),
  );
  agent.destroy();
  return { done, errors, elapsedMs: (job.mode === "wait-ack" ? lastDone : performance.now()) - start, latencies };
}

const LOAD_FLAG = "--load-process";

/**
 * A load process: this file forked with {@link LOAD_FLAG}, which runs the jobs it is sent one after
 * another (so a run's phases share one process start). {@link stop} ends it.
 */
export class LoadProcess {
  private readonly child: ChildProcess;
  private waiting?: { resolve: (r: LoadResult) => void; reject: (err: Error) => void };
  private exitError?: Error;

  constructor() {
    const execArgv = import.meta.url.endsWith(".ts") ? ["--import", import.meta.resolve("tsx")] : [];
    this.child = fork(fileURLToPath(import.meta.url), [LOAD_FLAG], { execArgv, serialization: "advanced" });
    this.child.on("message", (r) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.resolve(r as LoadResult);
    });
    const fail = (err: Error) => {
      this.exitError = err;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err);
    };
    this.child.once("error", fail);
    this.child.once("exit", (code, signal) => fail(new Error(`load process exited (${code ?? signal})`)));
  }

  /**
   * Runs `job` and resolves with its result. A job not done within `timeoutMs` (a server that
   * stopped answering) kills the process and rejects.
   */
  run(job: LoadJob, timeoutMs: number): Promise<LoadResult> {
    if (this.exitError) return Promise.reject(this.exitError);
    if (this.waiting) return Promise.reject(new Error("a load job is already running"));
    return new Promise<LoadResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`the server stopped answering: ${job.mode} not done within ${timeoutMs} ms`));
        this.child.kill("SIGKILL");
      }, timeoutMs);
      this.waiting = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.child.send(job);
    });
  }

  /** Ends the process (it exits once its channel closes) and waits for it. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

if (process.argv.includes(LOAD_FLAG)) {
  process.on("message", (job) => {
    runLoad(job as LoadJob).then((r) => process.send?.(r));
  });
}
