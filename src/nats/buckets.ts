import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { wrapStorage } from "./streams.js";

/**
 * Opens a KV bucket, creating it with `opts` when it does not exist (an existing bucket keeps its
 * settings). Failures become a `StorageError` naming the bucket.
 */
export async function openBucket(nc: NatsConnection, name: string, opts: Partial<KvOptions> = {}): Promise<KV> {
  try {
    return await new Kvm(nc).create(name, opts);
  } catch (err) {
    throw wrapStorage(err, `opening bucket ${name}`);
  }
}

/**
 * Read-modify-write of one key with optimistic concurrency: `change` gets the current value (or
 * undefined) and returns the new one, which is written only if nobody wrote the key meanwhile;
 * otherwise it runs again on the fresh value. Returns what was written.
 */
export async function updateKey<T>(kv: KV, key: string, change: (current: T | undefined) => T): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const entry = await kv.get(key);
    const current = entry?.operation === "PUT" ? entry.json<T>() : undefined;
    const next = change(current);
    const data = JSON.stringify(next);
    try {
      if (entry) await kv.update(key, data, entry.revision);
      else await kv.create(key, data);
      return next;
    } catch (err) {
      // Someone else wrote first: try again on their value (bounded, with a little jitter).
      if (attempt >= 20) throw wrapStorage(err, `updating ${key}`);
      await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
    }
  }
}
