/**
 * jetq's request APIs on NATS (`jetq.api.sched.*`, `jetq.api.tasks.list`) share one convention: a
 * JSON object as the request body, and `{ok: true, …}` or `{ok: false, error: {code, message}}` as
 * the reply, the code being a {@link JetqError}'s stable one.
 */
import { JetqError } from "./errors.js";
import type { Logger } from "./logger.js";

/** A reply of a jetq request API. */
export type ApiReply = { ok: true; [k: string]: unknown } | { ok: false; error: { code: string; message: string } };

/** The JSON object of a request body (an empty body reads as `{}`). @throws JetqError (`invalid_json`, `invalid_request`) */
export function parseRequestBody(m: { data: Uint8Array }): Record<string, unknown> {
  if (m.data.byteLength === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(m.data).toString("utf8"));
  } catch {
    throw new JetqError("invalid_json", "request body is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new JetqError("invalid_request", "request body must be a JSON object");
  return v as Record<string, unknown>;
}

/**
 * The reply (JSON text) to one request: the handler's, or `{ok: false, error}` with the error's
 * stable code (`internal`, logged, for anything that is not a {@link JetqError}).
 */
export async function answerRequest(
  m: { subject: string; data: Uint8Array },
  handler: (b: Record<string, unknown>) => Promise<ApiReply>,
  log: Logger,
): Promise<string> {
  let reply: ApiReply;
  try {
    reply = await handler(parseRequestBody(m));
  } catch (err) {
    const code = err instanceof JetqError ? err.code : "internal";
    if (code === "internal")
      log.error("request API call failed", { subject: m.subject, error: (err as Error).message });
    reply = { ok: false, error: { code, message: (err as Error).message } };
  }
  return JSON.stringify(reply);
}
