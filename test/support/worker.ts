import { Client, type ClientOptions, type QueueConfig, type Router, silentLogger, type Task } from "../../src/index.js";
import { finalOutcomes } from "./nats.js";

/** Waits for a task's final event and returns its record. */
export type Outcome = (id: string) => Promise<Task>;

/**
 * Connects a client to `queue`, runs `router` on it while `body` works (retry delays of 20 ms unless
 * `options` say otherwise), then stops the worker and closes everything. `outcome(id)` waits for a
 * task's final event (subscribed before `body` starts, so no outcome is missed) and loads it.
 */
export async function withWorker(
  servers: string,
  queue: QueueConfig,
  router: Router | ((c: Client) => Router),
  body: (c: Client, outcome: Outcome) => Promise<void>,
  options: Partial<ClientOptions> = {},
): Promise<void> {
  const c = await Client.connect({ servers, queue, logger: silentLogger, retryPolicy: () => 20, ...options });
  const finals = finalOutcomes(c.events({ final: true, queue: queue.name }));
  const ac = new AbortController();
  const done = c.run(typeof router === "function" ? router(c) : router, { signal: ac.signal });
  try {
    await body(c, async (id) => {
      await finals.reached(id);
      return c.loadTask(id);
    });
  } finally {
    ac.abort();
    await done;
    finals.close();
    await c.close();
  }
}
