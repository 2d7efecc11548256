import { randomUUID } from "node:crypto";
import { Client, type ClientOptions, silentLogger } from "../../src/index.js";

/** A queue name unique to the calling test. */
export const uniqueQueue = (): string => `q${randomUUID().slice(0, 8)}`;

/** Connects a silent client to `queue` on `servers`; `extra` overrides any option. */
export function testClient(servers: string, queue: string, extra: Partial<ClientOptions> = {}): Promise<Client> {
  return Client.connect({ servers, queue, logger: silentLogger, ...extra });
}
