import { ValidationError } from "../errors.js";
import type { ScheduleSpec } from "./gozo-protocol.js";

function fail(message: string): never {
  throw new ValidationError("invalid_request", message);
}

function optString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") fail(`${key} must be a string`);
  return v;
}

/**
 * Validates the JSON body of an "add schedule" request (request API and HTTP API):
 * `{ id?, subject, when? | cron? (+ tz?) | every?, payload? (text) | payload_b64?, headers? }`.
 * Only shapes and types are checked here; what the fields hold is checked by `buildSchedule`
 * (subject and header policy, times, limits).
 * @throws ValidationError (`invalid_request`)
 */
export function scheduleSpecFromJson(body: unknown): ScheduleSpec {
  if (typeof body !== "object" || body === null || Array.isArray(body)) fail("body must be a JSON object");
  const b = body as Record<string, unknown>;
  const subject = optString(b, "subject");
  if (subject === undefined) fail("subject is required");
  const payload = optString(b, "payload");
  const payloadB64 = optString(b, "payload_b64");
  if (payload !== undefined && payloadB64 !== undefined) fail("give payload or payload_b64, not both");
  if (payloadB64 !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(payloadB64)) fail("payload_b64 is not base64");
  const spec: ScheduleSpec = {
    target: subject,
    payload: payloadB64 !== undefined ? new Uint8Array(Buffer.from(payloadB64, "base64")) : Buffer.from(payload ?? ""),
  };
  for (const key of ["id", "when", "cron", "tz"] as const) {
    const v = optString(b, key);
    if (v !== undefined) spec[key] = v;
  }
  const every = b.every;
  if (every !== undefined && every !== null) {
    if (typeof every !== "string" && typeof every !== "number") fail("every must be a duration string or milliseconds");
    spec.every = every;
  }
  if (b.headers !== undefined && b.headers !== null) {
    if (typeof b.headers !== "object" || Array.isArray(b.headers)) fail("headers must be an object");
    const headers = Object.create(null) as Record<string, string[]>;
    for (const [k, v] of Object.entries(b.headers as Record<string, unknown>)) {
      const vs = Array.isArray(v) ? v : [v];
      if (!vs.every((x) => typeof x === "string")) fail(`header ${JSON.stringify(k)} must be a string or strings`);
      headers[k] = vs as string[];
    }
    spec.headers = headers;
  }
  return spec;
}
