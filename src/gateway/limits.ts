import { ConfigError } from "../errors.js";

/** Request limits of the HTTP gateway; a request over one is answered 413 or 400 with a clear code. */
export interface GatewayLimits {
  /** Largest request body (bytes), else 413 `body_too_large`. @defaultValue 1_048_576 (1 MiB) */
  bodyBytes: number;
  /** Longest `/wait` `timeout` (ms), else 400 `wait_timeout_too_large`. @defaultValue 60_000 */
  waitTimeoutMs: number;
  /** Most entries in a `/wait` `queues` array, else 400 `too_many_queues`. @defaultValue 100 */
  waitQueues: number;
  /** Largest `n` of `/peek`, else 400 `peek_n_too_large`. @defaultValue 1000 */
  peekN: number;
  /** Most ids in one `/ack` or `/nak`, else 400 `too_many_ids`. @defaultValue 1000 */
  ackIds: number;
  /**
   * Most queues created over HTTP (`POST /enqueue/<new queue>`, `PUT /v1/queues/<new queue>`) in any
   * minute, else 429 `queue_creation_limited`. @defaultValue 60
   */
  newQueuesPerMinute: number;
  /** Deepest nesting of arrays and objects in a JSON body, else 400 `json_too_deep`. @defaultValue 64 */
  jsonDepth: number;
}

/** The default {@link GatewayLimits}. */
export const DEFAULT_LIMITS: Readonly<GatewayLimits> = {
  bodyBytes: 1024 * 1024,
  waitTimeoutMs: 60_000,
  waitQueues: 100,
  peekN: 1000,
  ackIds: 1000,
  newQueuesPerMinute: 60,
  jsonDepth: 64,
};

/** The longest `waitTimeoutMs` that can be configured: 1 day. */
export const MAX_WAIT_TIMEOUT_MS = 86_400_000;

/**
 * Fills in defaults and checks every limit is a positive integer (and `waitTimeoutMs` at most
 * {@link MAX_WAIT_TIMEOUT_MS}). @throws ConfigError (`invalid_http_limit`)
 */
export function resolveLimits(given: Partial<GatewayLimits> = {}): GatewayLimits {
  const limits = { ...DEFAULT_LIMITS, ...given };
  for (const [name, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new ConfigError("invalid_http_limit", `HTTP limit ${name} must be a positive integer, got ${v}`);
  }
  if (limits.waitTimeoutMs > MAX_WAIT_TIMEOUT_MS)
    throw new ConfigError("invalid_http_limit", `HTTP limit waitTimeoutMs must be at most ${MAX_WAIT_TIMEOUT_MS}`);
  return limits;
}
