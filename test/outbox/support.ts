import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";

/**
 * Resolves at `nc`'s next reconnection (call it before the server goes away): after a restart,
 * requests on `nc` sent before it reconnected could wait out their timeout.
 */
export function nextReconnect(nc: NatsConnection): Promise<void> {
  const status = nc.status() as AsyncIterable<{ type: string }> & { stop?(): void };
  return (async () => {
    for await (const s of status) {
      if (s.type === "reconnect") break;
    }
    status.stop?.();
  })();
}

/** A temp dir with a nats-server whose store lives in it, so `stop()` then `start()` keeps the data. */
export async function natsWithKeptStore(): Promise<{
  dir: string;
  server: NatsServerLauncher;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "jetq-outbox-"));
  const server = await new NatsServerLauncher({ storeDir: join(dir, "nats") }).start();
  return {
    dir,
    server,
    cleanup: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a stream (2 min duplicate window, jetq's default). */
export async function addStream(nc: NatsConnection, name: string, subjects: string[]): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects, duplicate_window: 120_000_000_000 });
}

/** Every message of a stream, in stream order: payload text and `Nats-Msg-Id`. */
export async function readStream(nc: NatsConnection, stream: string): Promise<{ data: string; msgId: string }[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: { data: string; msgId: string }[] = [];
  if (info.state.messages === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push({ data: m.string(), msgId: m.headers?.get("Nats-Msg-Id") ?? "" });
    if (m.seq >= info.state.last_seq) break;
  }
  messages.stop();
  return out;
}

/** Asserts `got` is exactly `m-<from>` … `m-<to - 1>` in order; returns a description of the first problem. */
export function sequenceProblem(got: string[], from: number, to: number): string | undefined {
  if (got.length !== to - from) {
    const seen = new Set(got);
    return `expected ${to - from} messages, got ${got.length} (${seen.size} distinct)`;
  }
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== `m-${from + i}`) return `position ${i}: expected m-${from + i}, got ${got[i]}`;
  }
  return undefined;
}

/** A producer child process running fixtures/producer.ts, with its stdout lines observable. */
export class Producer {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  private waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  readonly exited: Promise<unknown>;

  constructor(args: { db: string; url: string; subject: string; from: number; count: number }) {
    const script = fileURLToPath(new URL("./fixtures/producer.ts", import.meta.url));
    this.proc = spawn(
      process.execPath,
      ["--import", "tsx", script, args.db, args.url, args.subject, String(args.from), String(args.count)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    this.exited = once(this.proc, "exit");
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on("line", (l) => {
      this.lines.push(l);
      for (const w of [...this.waiters]) {
        if (w.pred(l)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(l);
        }
      }
    });
  }

  /** The first line (already seen or coming) matching `pred`; rejects if the process exits first. */
  line(pred: (l: string) => boolean, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching line within ${timeoutMs} ms: ${this.lines.slice(-5).join(" | ")}`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`producer exited: ${this.lines.slice(-5).join(" | ")}`));
      });
    });
  }

  /** Highest N reported as "durable N" (every message before N was durable). */
  get durable(): number {
    let n = 0;
    for (const l of this.lines) if (l.startsWith("durable ")) n = Math.max(n, Number(l.slice(8)));
    return n;
  }

  /** SIGKILL, then wait for the exit. */
  async kill(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.exited;
  }
}
