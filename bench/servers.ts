import { join } from "node:path";
import { NatsServerLauncher } from "../src/nats/nats-server-launcher.js";
import { findPid } from "./cpu.js";
import { assertRedisServerAvailable, RedisServerLauncher } from "./redis-server-launcher.js";
import type { SideId } from "./types.js";

/** The BullMQ sides and the persistence of their Redis. */
export type RedisSide = "bullmq" | "bullmq-aof";

/**
 * The servers one benchmark run owns: a nats-server with JetStream (file store in a temp dir) for
 * jetq and raw JetStream, and two redis-servers for BullMQ — one without persistence, one with an
 * append-only file fsynced every second. All on loopback, free ports, removed on {@link stop}.
 */
export class BenchServers {
  readonly nats: NatsServerLauncher;
  readonly redis: Record<RedisSide, RedisServerLauncher> = {
    bullmq: new RedisServerLauncher({ persistence: "none" }),
    "bullmq-aof": new RedisServerLauncher({ persistence: "aof-everysec" }),
  };
  /** `nats-server --version` output. */
  natsVersion = "";
  /** redis-server version. */
  redisVersion = "";
  private natsPid?: number;

  /** The servers of a run on the nats-server `natsBinary` (a path or a command on PATH). */
  constructor(readonly natsBinary: string) {
    this.nats = new NatsServerLauncher({ binary: natsBinary });
  }

  /** Checks both binaries first (a clear error naming the package), then starts every server. */
  async start(): Promise<this> {
    this.natsVersion = `nats-server: v${this.nats.version}`;
    this.redisVersion = assertRedisServerAvailable();
    try {
      await Promise.all([this.nats.start(), this.redis.bullmq.start(), this.redis["bullmq-aof"].start()]);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.natsPid = findPid(join(this.nats.store, "nats-server.conf"));
    return this;
  }

  /** The pid of the server a side talks to (nats-server for every side but BullMQ's), if known. */
  serverPid(side: SideId): number | undefined {
    return side === "bullmq" || side === "bullmq-aof" ? this.redis[side].pid : this.natsPid;
  }

  /** Stops every server and removes their files. */
  async stop(): Promise<void> {
    await Promise.allSettled([this.nats.stop(), this.redis.bullmq.stop(), this.redis["bullmq-aof"].stop()]);
  }
}
