import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import { Client, type ClientOptions, connectNats, silentLogger } from "../../src/index.js";
import { JetStreamStorage } from "../../src/jobs/storage/jetstream-storage.js";
import { TaskEngine } from "../../src/jobs/task-engine.js";
import type { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { SchedulerService } from "../../src/scheduler/scheduler-service.js";
import { HttpGateway, type HttpGatewayParams } from "../../src/server/index.js";

/** A unique queue name. */
export const uniq = (): string => `q${randomUUID().slice(0, 8)}`;

/** An answer read as JSON (or text when it is not JSON). */
export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
  ms: number;
}

/** A running gateway on its own connection, with a scheduler, plus helpers to call it. */
export interface TestGateway {
  gw: HttpGateway;
  url: string;
  nc: NatsConnection;
  storage: JetStreamStorage;
  /** Sends a request (a non-string body is sent as JSON) and reads the answer. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /** A library client on queue `queue` (created when missing), closed by {@link close}. */
  client(queue: ClientOptions["queue"], extra?: Partial<ClientOptions>): Promise<Client>;
  close(): Promise<void>;
}

/** Starts a gateway on a free port against `nats`, with a scheduler for `/v1/schedules`. */
export async function startGateway(
  nats: NatsServerLauncher,
  params: Partial<HttpGatewayParams> = {},
): Promise<TestGateway> {
  const nc = await connectNats({ servers: nats.url, name: "gateway-test" });
  const storage = await JetStreamStorage.open(nc, {}, silentLogger);
  await storage.prepare();
  const scheduler = new SchedulerService({
    storage,
    log: silentLogger,
    name: `t-${randomUUID()}`,
  });
  await scheduler.start();
  const gw = new HttpGateway({
    engine: new TaskEngine({ storage, log: silentLogger, defaultQueue: "DEFAULT" }),
    ...(scheduler.commands ? { schedules: scheduler.commands } : {}),
    log: silentLogger,
    port: 0,
    ...params,
  });
  await gw.start();
  const clients: Client[] = [];
  const url = gw.url;
  return {
    gw,
    url,
    nc,
    storage,
    async call(method, path, body, headers = {}) {
      const t0 = performance.now();
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)["content-type"] ??= "application/json";
      }
      const r = await fetch(url + path, init);
      const text = await r.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
      return { status: r.status, body: parsed, headers: r.headers, ms: performance.now() - t0 };
    },
    async client(queue, extra = {}) {
      const c = await Client.connect({
        servers: nats.url,
        queue,
        logger: silentLogger,
        retryPolicy: () => 50,
        ...extra,
      });
      clients.push(c);
      return c;
    },
    async close() {
      await gw.stop();
      await Promise.all(clients.map((c) => c.close()));
      await scheduler.stop();
      await nc.drain();
    },
  };
}
