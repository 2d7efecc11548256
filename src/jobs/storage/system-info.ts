/**
 * What an operator asks first: which NATS server, how much JetStream jetq uses, its streams and
 * buckets, and which instance leads each elected component.
 */
import { wrapStorage } from "../../nats/streams.js";
import { handlesOf } from "./handles.js";
import type { JetStreamStorage } from "./jetstream-storage.js";
import { ELECTED_COMPONENTS } from "./layout.js";

/** One of jetq's streams (a KV bucket is a stream named `KV_<bucket>`). */
export interface StreamSummary {
  name: string;
  /** `bucket` for KV buckets (`name` is then the bucket's), else `stream`. */
  kind: "stream" | "bucket";
  messages: number;
  bytes: number;
  consumers: number;
  replicas: number;
  storage: string;
}

/** What {@link systemInfo} reports. */
export interface SystemInfo {
  server: { name: string; version: string; cluster?: string; maxPayload: number };
  /** The account's JetStream use. */
  account: { storageBytes: number; memoryBytes: number; streams: number; consumers: number; apiLevel?: number };
  /** jetq's streams and buckets, by name. */
  streams: StreamSummary[];
  /** Bytes jetq's streams and buckets hold. */
  jetqBytes: number;
  /** The current leader of each elected component (undefined: none elected now). */
  leaders: { component: string; leader?: string }[];
}

const JETQ_STREAM = /^(KV_)?JETQ_/;

/** Reads the server, account, jetq's streams and the elected leaders. @throws StorageError */
export async function systemInfo(storage: JetStreamStorage): Promise<SystemInfo> {
  const { nc, jsm } = handlesOf(storage);
  try {
    const account = await jsm.getAccountInfo();
    const streams: StreamSummary[] = [];
    for await (const s of jsm.streams.list()) {
      if (!JETQ_STREAM.test(s.config.name)) continue;
      const bucket = s.config.name.startsWith("KV_");
      streams.push({
        name: bucket ? s.config.name.slice(3) : s.config.name,
        kind: bucket ? "bucket" : "stream",
        messages: s.state.messages,
        bytes: s.state.bytes,
        consumers: s.state.consumer_count,
        replicas: s.config.num_replicas,
        storage: s.config.storage,
      });
    }
    streams.sort((a, b) => a.name.localeCompare(b.name));
    const info = nc.info;
    return {
      server: {
        name: info?.server_name ?? "",
        version: info?.version ?? "",
        ...(info?.cluster ? { cluster: info.cluster } : {}),
        maxPayload: info?.max_payload ?? 0,
      },
      account: {
        storageBytes: account.storage,
        memoryBytes: account.memory,
        streams: account.streams,
        consumers: account.consumers,
        ...(account.api.level === undefined ? {} : { apiLevel: account.api.level }),
      },
      streams,
      jetqBytes: streams.reduce((n, s) => n + s.bytes, 0),
      leaders: await leaders(storage),
    };
  } catch (err) {
    throw wrapStorage(err, "reading system information");
  }
}

async function leaders(storage: JetStreamStorage): Promise<SystemInfo["leaders"]> {
  const out: SystemInfo["leaders"] = [];
  for (const component of ELECTED_COMPONENTS) {
    const leader = await storage.leader(component);
    out.push(leader === undefined ? { component } : { component, leader });
  }
  return out;
}
