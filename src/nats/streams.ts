import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StoredMsg,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { errorMessage, JetqError, StorageError } from "../errors.js";

/**
 * True when a JetStream API error says the stream, consumer or message does not exist. A delete of a
 * message that is gone (deleted, or replaced under a per-subject limit) answers "no message found"
 * (code 10057, status 500) on 2.9 and 2.14 alike; a get of one answers 404 / code 10037.
 */
export function isNotFound(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.status === 404 ||
      err.code === JetStreamApiCodes.NoMessageFound ||
      /not found|no message found/.test(err.message))
  );
}

/** Wraps a JetStream failure in a {@link StorageError} that says what was being done; jetq's own errors pass through. */
export function wrapStorage(err: unknown, doing: string): JetqError {
  if (err instanceof JetqError) return err;
  const msg = errorMessage(err);
  const code = msg.includes("no responders") || msg.includes("503") ? "stream_not_found" : "storage_failed";
  return new StorageError(code, `${doing}: ${msg}`, { cause: err });
}

/** Returns the stream's info, creating it with `cfg` when it does not exist (an existing stream is left as it is). */
export async function ensureStream(
  jsm: JetStreamManager,
  cfg: Partial<StreamConfig> & { name: string },
): Promise<StreamInfo> {
  try {
    return await jsm.streams.info(cfg.name);
  } catch (err) {
    if (!isNotFound(err)) throw wrapStorage(err, `reading stream ${cfg.name}`);
  }
  // A cluster that is still starting may not know enough peers to place replicas yet: retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      return await jsm.streams.add(cfg);
    } catch (err) {
      const transient = /no suitable peers|temporarily unavailable/i.test((err as Error).message);
      if (!transient || attempt >= PLACEMENT_RETRIES) throw wrapStorage(err, `creating stream ${cfg.name}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Creates a stream with `cfg` unless it exists (an existing stream is left as it is).
 * @returns whether this call created it.
 */
export async function createStreamIfMissing(
  jsm: JetStreamManager,
  cfg: Partial<StreamConfig> & { name: string },
): Promise<boolean> {
  try {
    await jsm.streams.info(cfg.name);
    return false;
  } catch (err) {
    if (!isNotFound(err)) throw wrapStorage(err, `reading stream ${cfg.name}`);
  }
  await ensureStream(jsm, cfg);
  return true;
}

/** Tries of a stream creation that failed because the cluster could not place it yet (250 ms apart). */
const PLACEMENT_RETRIES = 40;

/** The last message on `subject` (wildcards allowed) via direct get, or undefined. */
export async function lastBySubject(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<StoredMsg | undefined> {
  try {
    return (await jsm.direct.getMessage(stream, { last_by_subj: subject })) ?? undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw wrapStorage(err, `reading ${subject}`);
  }
}
