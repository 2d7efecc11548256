/**
 * The HTTP client of the gateway benchmarks: `clients` keep-alive loops against an emq-style server
 * (jetq's gateway or the real emq), run in a child process so they do not share the server's event
 * loop. `load(job)` forks this file and resolves with what the loops measured.
 */
import { fork } from "node:child_process";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";

/** What the load worker is asked to do. */
export interface LoadJob {
  url: string;
  mode: "enqueue" | "wait-ack";
  queue: string;
  clients: number;
  /** Stop after this long (enqueue) or when the queue runs dry (wait-ack). */
  durationMs: number;
  /**
   * wait-ack: stop once this many cycles are done, instead of at the first empty wait (an empty wait
   * is then asked again).
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

/** Runs in the load process: `clients` keep-alive loops against the gateway. */
async function runLoad(job: LoadJob): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.clients });
  const latencies: number[] = [];
  let done = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + job.durationMs;
  let lastDone = start;
  const enqueueBody = JSON.stringify({ content: { n: 1, text: "hello from the benchmark" } });
  const waitBody = JSON.stringify({ timeout: job.waitTimeoutMs ?? 200, queues: [job.queue] });
  let claimed = 0; // wait-ack with `expect`: cycles started, so no client waits for a task nobody will send
  await Promise.all(
    Array.from({ length: job.clients }, async () => {
      for (;;) {
        const t0 = performance.now();
        if (job.mode === "enqueue") {
          if (t0 >= end) return;
          const r = await httpPost(agent, `${job.url}/enqueue/${job.queue}`, enqueueBody);
          if (r.status !== 200) errors++;
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
  return { done, errors, elapsedMs: (job.mode === "enqueue" ? performance.now() : lastDone) - start, latencies };
}

const LOAD_FLAG = "--load-process";

/**
 * Runs `job` in a child process (this file with {@link LOAD_FLAG}) and resolves with its result. With
 * `timeoutMs`, a load that has not finished by then (a server that stopped answering) is killed and
 * the promise rejects.
 */
export function load(job: LoadJob, timeoutMs?: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const execArgv = import.meta.url.endsWith(".ts") ? ["--import", import.meta.resolve("tsx")] : [];
    const child = fork(fileURLToPath(import.meta.url), [LOAD_FLAG], { execArgv, serialization: "advanced" });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            reject(new Error(`the server stopped answering: ${job.mode} not done within ${timeoutMs} ms`));
            child.kill("SIGKILL");
          }, timeoutMs);
    child.once("message", (r) => {
      clearTimeout(timer);
      resolve(r as LoadResult);
      child.disconnect();
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`load process exited with ${code}`));
    });
    child.send(job);
  });
}

if (process.argv.includes(LOAD_FLAG)) {
  process.once("message", (job) => {
    runLoad(job as LoadJob).then((r) => process.send?.(r));
  });
}
